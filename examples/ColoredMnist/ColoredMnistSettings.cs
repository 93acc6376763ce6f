using System.CommandLine;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Datasets.Mnist;
using ColoredMnistData = MLNet.FlatDebias.Datasets.Mnist.ColoredMnist;

namespace MLNet.FlatDebias.Examples.ColoredMnist;

/// <summary>The settings of one run of the Coloured MNIST example, after defaults are filled in.</summary>
public sealed record ColoredMnistSettings
{
    /// <summary>The bias-conflicting shares of the training set, one experiment each.</summary>
    public IReadOnlyList<double> ConflictingShares { get; init; } = [];

    /// <summary>The network.</summary>
    public NetworkKind Network { get; init; }

    /// <summary>Network width override, or null for the network's default.</summary>
    public int? NetworkWidth { get; init; }

    /// <summary>Training rows.</summary>
    public int TrainSize { get; init; }

    /// <summary>Validation rows (colours uniform within each digit).</summary>
    public int ValidationSize { get; init; }

    /// <summary>Test rows (colours uniform within each digit).</summary>
    public int TestSize { get; init; }

    /// <summary>Epochs per training run.</summary>
    public int Epochs { get; init; }

    /// <summary>Rows per step.</summary>
    public int BatchSize { get; init; }

    /// <summary>Learning rate.</summary>
    public double LearningRate { get; init; }

    /// <summary>The optimiser.</summary>
    public OptimizerKind Optimizer { get; init; }

    /// <summary>Weight decay.</summary>
    public double WeightDecay { get; init; }

    /// <summary>The FlatDebias bound is searched over these quantiles of the warm-up traces.</summary>
    public IReadOnlyList<double> Quantiles { get; init; } = [];

    /// <summary>Which epoch each run keeps (and which FlatDebias bound wins), on validation.</summary>
    public ModelSelection Selection { get; init; }

    /// <summary>Seed of the splits and of the training runs.</summary>
    public int Seed { get; init; }

    /// <summary>Where to train.</summary>
    public TrainingDevice Device { get; init; }

    /// <summary>The output folder.</summary>
    public string OutputFolder { get; init; } = "";

    /// <summary>Training rows per group whose traces are drawn.</summary>
    public int TraceRowsPerGroup { get; init; }

    /// <summary>Whether <c>--quick</c> chose the defaults.</summary>
    public bool Quick { get; init; }
}

/// <summary>The command line of the Coloured MNIST example and its defaults.</summary>
internal sealed class ColoredMnistCommand
{
    // The literature's network for Coloured MNIST is a small MLP (LfF: 3 x 100); ours is Mlp (2 x 256).
    internal const NetworkKind DefaultNetwork = NetworkKind.Mlp;
    // The literature's sizes: all MNIST training rows but the validation ones (GroupDRO needs every (digit, colour)
    // group in training: at 0.5 % that takes about 18,000 rows or more).
    internal const int DefaultTrainSize = 50_000;
    internal const int DefaultValidationSize = 10_000;
    internal const int DefaultTestSize = 10_000;
    internal const int DefaultEpochs = 5;
    internal const int DefaultBatchSize = 128;
    internal const double DefaultLearningRate = 1e-3;
    internal const OptimizerKind DefaultOptimizer = OptimizerKind.Adam;
    internal const double DefaultWeightDecay = 0;
    internal const string DefaultOutput = "out/colored-mnist";
    internal const int DefaultTraceRowsPerGroup = 100;

    // --quick: one share, small splits, two epochs (CI); 5 % so that 2,000 rows still hold every group.
    internal static readonly double[] QuickShares = [0.05];
    internal const int QuickTrainSize = 2_000;
    internal const int QuickValidationSize = 1_000;
    internal const int QuickTestSize = 2_000;
    internal const int QuickEpochs = 3;

    public Option<double[]?> Conflicting { get; } = new("--conflicting") { Description = "Bias-conflicting share(s) of the training set, e.g. --conflicting 0.01 or --conflicting 0.005 0.05. Default: 0.005 0.01 0.02 0.05 (the literature's four; 0.05 with --quick).", AllowMultipleArgumentsPerToken = true };
    public Option<NetworkKind> Network { get; } = new("--network") { Description = "The network.", DefaultValueFactory = _ => DefaultNetwork };
    public Option<int?> Width { get; } = new("--width") { Description = "Network width (Mlp hidden units, SmallCnn first-block channels, ResNet stem channels). Default: the network's own (256, 32, 64)." };
    public Option<int?> TrainSize { get; } = new("--train-size") { Description = $"Training rows (from the MNIST training split). Default: {DefaultTrainSize} ({QuickTrainSize} with --quick)." };
    public Option<int?> ValidationSize { get; } = new("--validation-size") { Description = $"Validation rows, colours uniform (other MNIST training rows). Default: {DefaultValidationSize} ({QuickValidationSize} with --quick)." };
    public Option<int?> TestSize { get; } = new("--test-size") { Description = $"Test rows, colours uniform (the MNIST test split). Default: {DefaultTestSize} ({QuickTestSize} with --quick)." };
    public Option<int?> Epochs { get; } = new("--epochs") { Description = $"Epochs per training run. Default: {DefaultEpochs} ({QuickEpochs} with --quick)." };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Rows per step.", DefaultValueFactory = _ => DefaultBatchSize };
    public Option<double> LearningRate { get; } = new("--learning-rate", "--lr") { Description = "Learning rate.", DefaultValueFactory = _ => DefaultLearningRate };
    public Option<OptimizerKind> Optimizer { get; } = new("--optimizer") { Description = "Optimiser.", DefaultValueFactory = _ => DefaultOptimizer };
    public Option<double> WeightDecay { get; } = new("--weight-decay") { Description = "Weight decay (L2).", DefaultValueFactory = _ => DefaultWeightDecay };
    public Option<double[]?> Quantiles { get; } = new("--quantiles") { Description = $"The epsilon search: FlatDebias is trained once per quantile of the warm-up traces and the best by the --selection metric on validation wins (validation accuracy by default). Default: the trainer's default quantile ({Setting(new FlatDebiasTrainer.Options().TraceBoundQuantile)}) only.", AllowMultipleArgumentsPerToken = true };
    public Option<ModelSelection> Selection { get; } = new("--selection") { Description = "Which epoch each run keeps (and which FlatDebias bound wins), judged on validation. The default is validation accuracy: validation colours are uniform, so it is the unbiased accuracy, while the worst of 100 (digit, colour) groups of about 100 validation rows each is 0 for most epochs and cannot choose.", DefaultValueFactory = _ => ModelSelection.ValidationAccuracy };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the splits and the training runs.", DefaultValueFactory = _ => 0 };
    public Option<TrainingDevice> Device { get; } = new("--device") { Description = "Where to train: Auto (CUDA when present), Cpu or Cuda (needs a CUDA build: -p:TorchBackend=cuda-linux).", DefaultValueFactory = _ => TrainingDevice.Auto };
    public Option<string> Output { get; } = new("--output") { Description = "Output folder for results.json, the models and the charts.", DefaultValueFactory = _ => DefaultOutput };
    public Option<int> TraceRows { get; } = new("--trace-rows") { Description = "Training rows per (digit, colour) group whose Fisher traces are drawn.", DefaultValueFactory = _ => DefaultTraceRowsPerGroup };
    public Option<bool> Quick { get; } = new("--quick") { Description = "The smallest setting (under a minute on 2 cores; for CI); explicit options still win." };

    public RootCommand Create()
    {
        var command = new RootCommand(
            "Coloured MNIST (LfF / PGD protocol): each digit drawn in its own colour except for a small bias-conflicting share " +
            "of the training rows; validation and test colours uniform. ERM, GroupDRO (uses the training groups) and FlatDebias " +
            "(does not) per share, each selected on validation (--selection); prints unbiased test accuracy and " +
            "worst-group accuracy and writes results.json, the models (ML.NET zips) and charts (PNG) to --output.");
        foreach (var option in new Option[] { Conflicting, Network, Width, TrainSize, ValidationSize, TestSize, Epochs, BatchSize, LearningRate, Optimizer, WeightDecay, Quantiles, Selection, Seed, Device, Output, TraceRows, Quick })
            command.Options.Add(option);
        return command;
    }

    /// <summary>Fills in the defaults and checks every value; throws <see cref="UsageException"/> naming the option.</summary>
    public ColoredMnistSettings Resolve(ParseResult result)
    {
        bool quick = result.GetValue(Quick);
        var shares = result.GetValue(Conflicting) is { Length: > 0 } s ? s : quick ? QuickShares : [.. ColoredMnistData.StandardConflictingShares];
        foreach (var v in shares) CommandLineHost.Check(v, "--conflicting", x => x is >= 0 and <= 1, "values must be in [0, 1]");
        var quantiles = result.GetValue(Quantiles) is { Length: > 0 } q ? q : [new FlatDebiasTrainer.Options().TraceBoundQuantile];
        foreach (var v in quantiles) CommandLineHost.Check(v, "--quantiles", x => x is > 0 and <= 1, "values must be in (0, 1]");
        int epochs = CommandLineHost.Check(result.GetValue(Epochs) ?? (quick ? QuickEpochs : DefaultEpochs), "--epochs", v => v >= 1, "must be >= 1");
        int warmup = new FlatDebiasTrainer.Options().WarmupEpochs;
        if (epochs <= warmup) throw new UsageException($"--epochs must be more than FlatDebias's {warmup} warm-up epoch(s); got {epochs}.");
        int train = CommandLineHost.Check(result.GetValue(TrainSize) ?? (quick ? QuickTrainSize : DefaultTrainSize), "--train-size", v => v is >= 10 and <= 50_000, "must be in [10, 50000]");
        int validation = CommandLineHost.Check(result.GetValue(ValidationSize) ?? (quick ? QuickValidationSize : DefaultValidationSize), "--validation-size", v => v is >= 10 and <= 10_000, "must be in [10, 10000]");
        if (train + validation > 60_000) throw new UsageException($"--train-size plus --validation-size must be at most 60000 (the MNIST training split); got {train + validation}.");
        var output = result.GetValue(Output) ?? DefaultOutput;
        if (string.IsNullOrWhiteSpace(output)) throw new UsageException("--output must name a folder.");
        return new ColoredMnistSettings
        {
            ConflictingShares = [.. shares.Distinct()],
            Network = result.GetValue(Network),
            NetworkWidth = result.GetValue(Width) is int w ? CommandLineHost.Check(w, "--width", x => x >= 1, "must be >= 1") : null,
            TrainSize = train,
            ValidationSize = validation,
            TestSize = CommandLineHost.Check(result.GetValue(TestSize) ?? (quick ? QuickTestSize : DefaultTestSize), "--test-size", v => v is >= 10 and <= 10_000, "must be in [10, 10000]"),
            Epochs = epochs,
            BatchSize = CommandLineHost.Check(result.GetValue(BatchSize), "--batch-size", v => v >= 1, "must be >= 1"),
            LearningRate = CommandLineHost.Check(result.GetValue(LearningRate), "--learning-rate", v => v > 0 && double.IsFinite(v), "must be > 0"),
            Optimizer = result.GetValue(Optimizer),
            WeightDecay = CommandLineHost.Check(result.GetValue(WeightDecay), "--weight-decay", v => v >= 0 && double.IsFinite(v), "must be >= 0"),
            Quantiles = [.. quantiles.Distinct()],
            Selection = result.GetValue(Selection),
            Seed = result.GetValue(Seed),
            Device = result.GetValue(Device),
            OutputFolder = Path.GetFullPath(output),
            TraceRowsPerGroup = CommandLineHost.Check(result.GetValue(TraceRows), "--trace-rows", v => v >= 1, "must be >= 1"),
            Quick = quick,
        };
    }

    private static string Setting(double value) => Format.Setting(value);
}
