using System.CommandLine;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>The settings of one run of the Waterbirds experiment, after defaults are filled in.</summary>
public sealed record WaterbirdsSettings
{
    /// <summary>The real dataset folder (<c>waterbird_complete95_forest2water2</c> or its parent), or null for the MNIST-built set.</summary>
    public string? DataFolder { get; init; }

    /// <summary>A PyTorch state dictionary to start every network from, or null.</summary>
    public string? PretrainedWeights { get; init; }

    /// <summary>The network.</summary>
    public NetworkKind Network { get; init; }

    /// <summary>Network width override, or null for the network's default.</summary>
    public int? NetworkWidth { get; init; }

    /// <summary>Side of the (centre-cropped) image the network sees, in pixels.</summary>
    public int ImageSize { get; init; }

    /// <summary>Side the image is resized to before the centre crop, in pixels.</summary>
    public int ResizeSize { get; init; }

    /// <summary>Epochs per training run.</summary>
    public int Epochs { get; init; }

    /// <summary>Rows per step.</summary>
    public int BatchSize { get; init; }

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; }

    /// <summary>The optimiser.</summary>
    public OptimizerKind Optimizer { get; init; }

    /// <summary>SGD momentum.</summary>
    public double Momentum { get; init; }

    /// <summary>Weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Random resized crops and flips of training images.</summary>
    public bool Augmentation { get; init; }

    /// <summary>The FlatDebias bound epsilon is searched over these quantiles of the warm-up traces.</summary>
    public IReadOnlyList<double> Quantiles { get; init; } = [];

    /// <summary>Seed of the training runs and of the MNIST-built set.</summary>
    public int Seed { get; init; }

    /// <summary>Where to train.</summary>
    public TrainingDevice Device { get; init; }

    /// <summary>The output folder.</summary>
    public string OutputFolder { get; init; } = "";

    /// <summary>The MNIST-built set's divisor of Waterbirds' group counts (1: Waterbirds' own sizes).</summary>
    public int ScaleDivisor { get; init; }

    /// <summary>Rows per group whose traces are drawn (the first ones of each training group).</summary>
    public int TraceRowsPerGroup { get; init; }

    /// <summary>Whether <c>--quick</c> chose the defaults.</summary>
    public bool Quick { get; init; }

    /// <summary>With <see cref="FrozenBackbone"/>: run the library's method search instead of the table (<c>--search</c>).</summary>
    public bool Search { get; init; }

    /// <summary>With <see cref="Search"/>: draws per method (<c>--draws</c>).</summary>
    public int SearchDraws { get; init; }

    /// <summary>With <see cref="Search"/>: a time budget that replaces <see cref="SearchDraws"/> (<c>--time-budget</c>), or null.</summary>
    public TimeSpan? SearchTimeBudget { get; init; }

    /// <summary>Whether the networks are trained on the penultimate features of a frozen, pretrained backbone
    /// (<c>--frozen-backbone</c>) instead of on pixels.</summary>
    public bool FrozenBackbone { get; init; }

    /// <summary>With <see cref="FrozenBackbone"/> and <see cref="PretrainedWeights"/>: the backbone network the weights are for.</summary>
    public NetworkKind Backbone { get; init; }

    /// <summary>Whether the network starts from ImageNet weights and is fine-tuned end to end (<c>--fine-tune</c>).</summary>
    public bool FineTune { get; init; }

    /// <summary>With <see cref="FrozenBackbone"/>: the folder of feature files reused across runs.</summary>
    public string FeatureCacheFolder { get; init; } = "";

    /// <summary>Whether this is the real dataset.</summary>
    public bool RealData => DataFolder is not null;
}

/// <summary>The command line of the Waterbirds example and the defaults it fills in.</summary>
internal sealed class WaterbirdsCommand
{
    // Defaults of the MNIST-built set: measured to finish all five trainings (ERM, GroupDRO, FlatDebias x 3 bounds)
    // on 2 CPU cores in a few minutes with ERM clearly biased (see the README's Results).
    internal const int MnistImageSize = 32;
    internal const int MnistEpochs = 20;
    internal const int MnistNetworkWidth = 16;
    internal const int MnistBatchSize = 64;
    internal const double MnistLearningRate = 1e-3;
    internal const OptimizerKind MnistOptimizer = OptimizerKind.Adam;
    internal const int MnistScaleDivisor = 1;

    // --quick: the smallest setting that still runs every step (CI).
    internal const int QuickImageSize = 28;
    internal const int QuickEpochs = 3;
    internal const int QuickScaleDivisor = 5;
    internal static readonly double[] QuickQuantiles = [0.8, 0.9];

    // The real dataset: the literature's settings (Sagawa et al. 2020 and the paper).
    internal const NetworkKind RealNetwork = NetworkKind.ResNet50;
    internal const int RealImageSize = 224;
    internal const int RealResizeSize = 256;
    internal const int RealEpochs = 300;
    internal const int RealBatchSize = 128;
    internal const double RealLearningRate = 1e-3;
    internal const OptimizerKind RealOptimizer = OptimizerKind.Sgd;

    // --frozen-backbone: a head (Linear by default) on the penultimate features of the built-in ImageNet ResNet-18 at 224 px.
    internal const int FrozenImageSize = 224;
    internal const NetworkKind FrozenNetwork = NetworkKind.Linear;
    internal const NetworkKind FrozenPretrainedBackbone = NetworkKind.ResNet50;
    internal const int FrozenEpochs = 30;
    internal const int FrozenBatchSize = 128;
    internal const double FrozenLearningRate = 1e-3;
    internal const OptimizerKind FrozenOptimizer = OptimizerKind.Adam;
    internal const int QuickFrozenScaleDivisor = 20;
    // --search: draws per method (the library's default, as in the fair benchmark).
    internal const int SearchDrawsDefault = 8;
    internal static readonly string DefaultFeatureCache = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mlnet-flatdebias", "features");

    // --fine-tune: ImageNet weights fine-tuned end to end with SGD and momentum, at a size and schedule a 2-core machine
    // finishes in hours (224 px costs about 4x 112 px per epoch); lr and batch as Kirichenko et al.'s ERM base models.
    internal const int FineTuneImageSize = 112;
    internal const int FineTuneEpochs = 6;
    internal const int FineTuneBatchSize = 32;
    internal const double FineTuneLearningRate = 3e-3;
    internal const OptimizerKind FineTuneOptimizer = OptimizerKind.Sgd;
    internal const int FineTuneScaleDivisor = 4;
    internal const int FineTuneTraceRowsPerGroup = 100;
    internal const int QuickFineTuneImageSize = 32;
    internal const int QuickFineTuneEpochs = 3;
    internal const int QuickFineTuneScaleDivisor = 25;
    internal const int QuickFineTuneTraceRowsPerGroup = 4;
    internal static readonly double[] QuickFineTuneQuantiles = [0.8];

    internal const double DefaultMomentum = 0.9;
    internal const double DefaultWeightDecay = 1e-4;
    internal static readonly double[] DefaultQuantiles = [0.7, 0.8, 0.9];
    internal const string DefaultOutput = "out/waterbirds";
    internal const int DefaultTraceRowsPerGroup = 1000;
    internal const int RealTraceRowsPerGroup = 250;

    public Option<string?> Data { get; } = new("--data") { Description = "The Waterbirds folder (waterbird_complete95_forest2water2, or its parent). Default: none, build the Waterbirds-format MNIST set instead." };
    public Option<string?> Pretrained { get; } = new("--pretrained") { Description = "ImageNet weights for the network: a PyTorch .pth/.pt or .safetensors state dict (torchvision names). Default: none (random initialisation)." };
    public Option<NetworkKind?> Network { get; } = new("--network") { Description = "The network. Default: ResNet50 with --data, SmallCnn without." };
    public Option<int?> Width { get; } = new("--width") { Description = "Network width (ResNet stem channels, SmallCnn first-block channels, Mlp hidden units). Default: 16 for SmallCnn on the MNIST-built set, else the network's own (ResNet 64, SmallCnn 32, Mlp 256)." };
    public Option<int?> ImageSize { get; } = new("--image-size") { Description = $"Image side in pixels after preprocessing. Default: {RealImageSize} with --data (resize {RealResizeSize}, centre crop), {MnistImageSize} without ({QuickImageSize} with --quick)." };
    public Option<int?> Epochs { get; } = new("--epochs") { Description = $"Epochs per training run. Default: {RealEpochs} with --data (Sagawa et al.), {MnistEpochs} without ({QuickEpochs} with --quick)." };
    public Option<int?> BatchSize { get; } = new("--batch-size") { Description = $"Rows per step. Default: {RealBatchSize} with --data, {MnistBatchSize} without." };
    public Option<double?> LearningRate { get; } = new("--learning-rate", "--lr") { Description = $"Learning rate. Default: {RealLearningRate:G} with --data, {MnistLearningRate:G} without." };
    public Option<OptimizerKind?> Optimizer { get; } = new("--optimizer") { Description = $"Optimiser. Default: {RealOptimizer} with --data (momentum), {MnistOptimizer} without." };
    public Option<double> Momentum { get; } = new("--momentum") { Description = "SGD momentum.", DefaultValueFactory = _ => DefaultMomentum };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "Weight decay (L2).", DefaultValueFactory = _ => DefaultWeightDecay };
    public Option<bool> Augment { get; } = new("--augment") { Description = "Random resized crops and horizontal flips of training images." };
    public Option<double[]?> Quantiles { get; } = new("--quantiles") { Description = "The epsilon search: FlatDebias is trained once per quantile of the warm-up traces (TraceBoundQuantile) and the best validation worst-group accuracy wins. Default: 0.7 0.8 0.9 (0.8 0.9 with --quick).", AllowMultipleArgumentsPerToken = true };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the training runs and of the MNIST-built set.", DefaultValueFactory = _ => 0 };
    public Option<TrainingDevice> Device { get; } = new("--device") { Description = "Where to train: Auto (CUDA when present), Cpu or Cuda (needs a CUDA build: -p:TorchBackend=cuda-linux).", DefaultValueFactory = _ => TrainingDevice.Auto };
    public Option<string> Output { get; } = new("--output") { Description = "Output folder for results.json, the models and the charts.", DefaultValueFactory = _ => DefaultOutput };
    public Option<int?> Scale { get; } = new("--scale") { Description = $"MNIST-built set only: divide Waterbirds' group counts by this (1 = Waterbirds' sizes, 4795/1199/5794 rows). Default: {MnistScaleDivisor} ({QuickScaleDivisor} with --quick)." };
    public Option<int?> TraceRows { get; } = new("--trace-rows") { Description = $"Training rows per group whose Fisher traces are drawn (the first of each group). Default: {RealTraceRowsPerGroup} with --data, {DefaultTraceRowsPerGroup} without." };
    public Option<bool> Frozen { get; } = new("--frozen-backbone") { Description = $"Train every method on the penultimate features of a frozen ImageNet backbone, extracted once per image and kept in --feature-cache: the built-in ImageNet ResNet-18 (package Microsoft.ML.DnnImageFeaturizer.ResNet18), or --backbone with --pretrained weights. Images at {FrozenImageSize} px; the head is --network (default {FrozenNetwork}; Mlp also works); defaults {FrozenEpochs} epochs, batch {FrozenBatchSize}, {FrozenOptimizer} lr {FrozenLearningRate:G}. Adds the paper-exact FlatDebias, JTT, PGD, LfF and DFR to the table." };
    public Option<bool> FineTune { get; } = new("--fine-tune") { Description = $"The paper's regime in miniature: the network starts from ImageNet weights (the built-in ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18, or --network with --pretrained weights) and is fine-tuned end to end for ERM, GroupDRO, JTT, FlatDebias at its defaults and FlatDebias paper-exact (its bound searched over --quantiles), each at its best validation worst-group epoch; prints the table, the paper's traces of minority and majority rows (before, during and after fine-tuning, and after a first epoch from scratch) and the multipliers. Defaults {FineTuneImageSize} px, {FineTuneEpochs} epochs, batch {FineTuneBatchSize}, {FineTuneOptimizer} lr {FineTuneLearningRate:G} momentum 0.9, the MNIST-built set at --scale {FineTuneScaleDivisor}, {FineTuneTraceRowsPerGroup} trace rows per group. Every training is kept in --output/runs and reused by a later run with the same --output; an interrupted one resumes from its checkpoint." };
    public Option<NetworkKind?> Backbone { get; } = new("--backbone") { Description = $"With --frozen-backbone and --pretrained: the network the weights are for (ResNet18, ResNet34, ResNet50). Default: {FrozenPretrainedBackbone}." };
    public Option<string?> FeatureCache { get; } = new("--feature-cache") { Description = "With --frozen-backbone: the folder of feature files, reused by later runs while the dataset, preprocessing and backbone are the same (a stale file is detected and made again). Default: ~/.cache/mlnet-flatdebias/features." };
    public Option<bool> Search { get; } = new("--search") { Description = $"With --frozen-backbone: instead of the table, the library's method search (MethodSearch): every method the data allows gets the same --draws from its search space (draw 0 = its defaults), each chosen on validation worst-group accuracy (half of the validation split; DFR and DPE fit on the other half); the best is trained again with seeds 1-3. Prints the leaderboard; writes report.md, the chart, leaderboard.csv and the chosen model (image paths in) to --output/search, and keeps every training in --output/search/runs (a stopped run resumes)." };
    public Option<int?> Draws { get; } = new("--draws") { Description = $"With --search: draws per method, the same for every method (1 = each method's defaults once). Default: {SearchDrawsDefault} (1 with --quick)." };
    public Option<double?> TimeBudget { get; } = new("--time-budget") { Description = "With --search: a time budget in minutes instead of --draws: every method's defaults train first, then as many draws per method as the rest of the budget allows at their measured cost (the result says how many)." };
    public Option<bool> Quick { get; } = new("--quick") { Description = "The smallest setting (about 20 seconds on 2 cores once built; for CI); explicit options still win." };

    public RootCommand Create()
    {
        var command = new RootCommand(
            "Waterbirds: ERM, GroupDRO and FlatDebias trained on the same data and network, each selected on validation " +
            "worst-group accuracy and evaluated on test; prints the paper's Table 1 and the per-group table and writes " +
            "results.json, the models (ML.NET zips) and charts (PNG) to --output. Without --data it builds a Waterbirds-format " +
            "set from MNIST (digits 0-4 vs 5-9 over land or water textures, 95 % correlated in training).");
        foreach (var option in new Option[] { Data, Pretrained, Network, Width, ImageSize, Epochs, BatchSize, LearningRate, Optimizer, Momentum, WeightDecay, Augment, Quantiles, Seed, Device, Output, Scale, TraceRows, Frozen, FineTune, Search, Draws, TimeBudget, Backbone, FeatureCache, Quick })
            command.Options.Add(option);
        return command;
    }

    /// <summary>Fills in the defaults and checks every value; throws <see cref="UsageException"/> naming the option.</summary>
    public WaterbirdsSettings Resolve(ParseResult result)
    {
        bool quick = result.GetValue(Quick);
        bool frozen = result.GetValue(Frozen);
        bool fineTune = result.GetValue(FineTune);
        if (fineTune && frozen) throw new UsageException("--fine-tune and --frozen-backbone exclude each other: fine-tuning trains the backbone, the frozen mode keeps it fixed.");
        var data = result.GetValue(Data);
        bool real = !string.IsNullOrWhiteSpace(data);
        if (real && !Directory.Exists(data)) throw new UsageException($"--data folder '{data}' does not exist.");
        var pretrained = result.GetValue(Pretrained);
        if (!string.IsNullOrWhiteSpace(pretrained) && !File.Exists(pretrained)) throw new UsageException($"--pretrained file '{pretrained}' does not exist.");
        int imageSize = CommandLineHost.Check(result.GetValue(ImageSize) ?? (fineTune ? (quick ? QuickFineTuneImageSize : FineTuneImageSize) : frozen ? FrozenImageSize : real ? RealImageSize : quick ? QuickImageSize : MnistImageSize), "--image-size", v => v is >= 16 and <= 1024, "must be in [16, 1024] pixels");
        int epochs = CommandLineHost.Check(result.GetValue(Epochs) ?? (fineTune ? (quick ? QuickFineTuneEpochs : FineTuneEpochs) : quick ? QuickEpochs : frozen ? FrozenEpochs : real ? RealEpochs : MnistEpochs), "--epochs", v => v >= 1, "must be >= 1");
        int warmup = new FlatDebiasTrainer.Options().WarmupEpochs;
        if (epochs <= warmup) throw new UsageException($"--epochs must be more than FlatDebias's {warmup} warm-up epoch(s); got {epochs}.");
        var quantiles = result.GetValue(Quantiles) is { Length: > 0 } q ? q : quick ? (fineTune ? QuickFineTuneQuantiles : QuickQuantiles) : DefaultQuantiles;
        foreach (var v in quantiles) CommandLineHost.Check(v, "--quantiles", x => x is > 0 and <= 1, "values must be in (0, 1]");
        var output = result.GetValue(Output) ?? DefaultOutput;
        if (string.IsNullOrWhiteSpace(output)) throw new UsageException("--output must name a folder.");
        var network = result.GetValue(Network) ?? (fineTune ? (string.IsNullOrWhiteSpace(pretrained) ? NetworkKind.ResNet18 : RealNetwork) : frozen ? FrozenNetwork : real ? RealNetwork : NetworkKind.SmallCnn);
        if (fineTune && string.IsNullOrWhiteSpace(pretrained) && network != NetworkKind.ResNet18)
            throw new UsageException($"--fine-tune without --pretrained fine-tunes the built-in ImageNet ResNet-18: --network must be ResNet18 (or give --pretrained weights for {network}).");
        if (fineTune && network is not (NetworkKind.ResNet18 or NetworkKind.ResNet34 or NetworkKind.ResNet50))
            throw new UsageException($"--fine-tune needs an ImageNet ResNet (--network ResNet18, ResNet34 or ResNet50); got {network}.");
        if (frozen && network is not (NetworkKind.Linear or NetworkKind.Mlp))
            throw new UsageException($"--network with --frozen-backbone is the head on the features: Linear or Mlp; got {network}.");
        var backbone = result.GetValue(Backbone) ?? FrozenPretrainedBackbone;
        if (result.GetValue(Backbone) is not null && (!frozen || string.IsNullOrWhiteSpace(pretrained)))
            throw new UsageException("--backbone needs --frozen-backbone and --pretrained (without them the built-in ImageNet ResNet-18 is the backbone).");
        if (backbone is not (NetworkKind.ResNet18 or NetworkKind.ResNet34 or NetworkKind.ResNet50))
            throw new UsageException($"--backbone must be ResNet18, ResNet34 or ResNet50; got {backbone}.");
        bool search = result.GetValue(Search);
        if (search && !frozen)
            throw new UsageException("--search runs on the frozen backbone's features (minutes on a CPU): add --frozen-backbone. On pixels every method's draws take hours; the library's MethodSearch does it for a program that wants to.");
        if (!search && (result.GetValue(Draws) is not null || result.GetValue(TimeBudget) is not null))
            throw new UsageException("--draws and --time-budget belong to --search.");
        if (result.GetValue(Draws) is not null && result.GetValue(TimeBudget) is not null)
            throw new UsageException("--draws and --time-budget exclude each other: the time budget decides the draws.");
        int draws = CommandLineHost.Check(result.GetValue(Draws) ?? (quick ? 1 : SearchDrawsDefault), "--draws", v => v >= 1, "must be >= 1");
        double? budget = result.GetValue(TimeBudget) is double minutes ? CommandLineHost.Check(minutes, "--time-budget", v => v > 0 && double.IsFinite(v), "must be > 0 minutes") : null;
        var featureCache = result.GetValue(FeatureCache);
        if (featureCache is not null && string.IsNullOrWhiteSpace(featureCache)) throw new UsageException("--feature-cache must name a folder.");
        return new WaterbirdsSettings
        {
            DataFolder = real ? Path.GetFullPath(data!) : null,
            PretrainedWeights = string.IsNullOrWhiteSpace(pretrained) ? null : Path.GetFullPath(pretrained),
            Network = network,
            NetworkWidth = result.GetValue(Width) is int w ? CommandLineHost.Check(w, "--width", x => x >= 1, "must be >= 1")
                : !real && !frozen && network == NetworkKind.SmallCnn ? MnistNetworkWidth : null,
            ImageSize = imageSize,
            // The real images: resize then centre crop in the literature's ratio (256 -> 224). The MNIST-built
            // images are resized to the network's size without a crop, so the digit is never cut.
            ResizeSize = real ? (int)Math.Round(imageSize * (double)RealResizeSize / RealImageSize) : imageSize,
            Epochs = epochs,
            BatchSize = CommandLineHost.Check(result.GetValue(BatchSize) ?? (fineTune ? FineTuneBatchSize : frozen ? FrozenBatchSize : real ? RealBatchSize : MnistBatchSize), "--batch-size", v => v >= 1, "must be >= 1"),
            LearningRate = CommandLineHost.Check(result.GetValue(LearningRate) ?? (fineTune ? FineTuneLearningRate : frozen ? FrozenLearningRate : real ? RealLearningRate : MnistLearningRate), "--learning-rate", v => v > 0 && double.IsFinite(v), "must be > 0"),
            Optimizer = result.GetValue(Optimizer) ?? (fineTune ? FineTuneOptimizer : frozen ? FrozenOptimizer : real ? RealOptimizer : MnistOptimizer),
            Momentum = CommandLineHost.Check(result.GetValue(Momentum), "--momentum", v => v is >= 0 and < 1, "must be in [0, 1)"),
            WeightDecay = CommandLineHost.Check(result.GetValue(WeightDecay), "--weight-decay", v => v >= 0 && double.IsFinite(v), "must be >= 0"),
            Augmentation = result.GetValue(Augment),
            Quantiles = [.. quantiles.Distinct()],
            Seed = result.GetValue(Seed),
            Device = result.GetValue(Device),
            OutputFolder = Path.GetFullPath(output),
            ScaleDivisor = CommandLineHost.Check(result.GetValue(Scale) ?? (fineTune ? (quick ? QuickFineTuneScaleDivisor : FineTuneScaleDivisor) : quick ? (frozen ? QuickFrozenScaleDivisor : QuickScaleDivisor) : MnistScaleDivisor), "--scale", v => v is >= 1 and <= 100, "must be in [1, 100]"),
            TraceRowsPerGroup = CommandLineHost.Check(result.GetValue(TraceRows) ?? (fineTune ? (quick ? QuickFineTuneTraceRowsPerGroup : FineTuneTraceRowsPerGroup) : real ? RealTraceRowsPerGroup : DefaultTraceRowsPerGroup), "--trace-rows", v => v >= 1, "must be >= 1"),
            Quick = quick,
            FrozenBackbone = frozen,
            Search = search,
            SearchDraws = draws,
            SearchTimeBudget = budget is double m ? TimeSpan.FromMinutes(m) : null,
            FineTune = fineTune,
            Backbone = backbone,
            FeatureCacheFolder = Path.GetFullPath(featureCache ?? DefaultFeatureCache),
        };
    }
}
