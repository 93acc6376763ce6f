using System.CommandLine;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.OwnPhotos;

/// <summary>The head trained on the features.</summary>
public enum OwnPhotosMethod
{
    /// <summary>FlatDebias with a Linear network: needs groups only in the validation set.</summary>
    FlatDebias,

    /// <summary>ERM with a Linear network, then DFR: its last layer re-fitted on the validation set's groups.</summary>
    Dfr,
}

/// <summary>The settings of one run of the own-photos example, after defaults are filled in.</summary>
public sealed record OwnPhotosSettings
{
    /// <summary>The image list (<c>path,label,group,split</c>), or null to draw the demo folder.</summary>
    public string? CsvPath { get; init; }

    /// <summary>The folder the CSV's relative paths are relative to, or null for the CSV's folder.</summary>
    public string? ImageFolder { get; init; }

    /// <summary>The split values of the training, validation and test rows.</summary>
    public string TrainSplit { get; init; } = "";

    /// <summary>The validation split value.</summary>
    public string ValidationSplit { get; init; } = "";

    /// <summary>The test split value.</summary>
    public string TestSplit { get; init; } = "";

    /// <summary>The head.</summary>
    public OwnPhotosMethod Method { get; init; }

    /// <summary>Epochs of the head's training.</summary>
    public int Epochs { get; init; }

    /// <summary>Rows per step.</summary>
    public int BatchSize { get; init; }

    /// <summary>The trainers' seed (<c>Options.Seed</c>; the MLContext's seed does not reach them).</summary>
    public int Seed { get; init; }

    /// <summary>Where to train.</summary>
    public TrainingDevice Device { get; init; }

    /// <summary>The folder of feature files, reused by later runs.</summary>
    public string FeatureFolder { get; init; } = "";

    /// <summary>The folder the test images are copied to and scored from (another machine's folder, in effect).</summary>
    public string DeployFolder { get; init; } = "";

    /// <summary>The output folder.</summary>
    public string OutputFolder { get; init; } = "";

    /// <summary>Whether <c>--quick</c> chose the defaults.</summary>
    public bool Quick { get; init; }
}

/// <summary>The command line of the own-photos example and its defaults.</summary>
internal sealed class OwnPhotosCommand
{
    internal const int DefaultEpochs = 30;
    internal const int QuickEpochs = 5;
    internal const int DefaultBatchSize = 32;
    internal const string DefaultOutput = "out/own-photos";

    public Option<string?> Csv { get; } = new("--csv") { Description = "Your image list: a CSV with a header naming the path (path, ImagePath or image), the label (label) and optionally group and split columns; paths relative to --image-folder. Default: none, draw a demo folder (circles and squares on sky or grass) under --output." };
    public Option<string?> ImageFolder { get; } = new("--image-folder") { Description = "The folder the CSV's relative paths are relative to. Default: the CSV's folder." };
    public Option<string> TrainSplit { get; } = new("--train-split") { Description = "The split value of the training rows.", DefaultValueFactory = _ => "train" };
    public Option<string> ValidationSplit { get; } = new("--validation-split") { Description = "The split value of the validation rows (model selection; DFR's held-out set).", DefaultValueFactory = _ => "val" };
    public Option<string> TestSplit { get; } = new("--test-split") { Description = "The split value of the test rows.", DefaultValueFactory = _ => "test" };
    public Option<OwnPhotosMethod> Method { get; } = new("--method") { Description = "The head on the features: FlatDebias (groups only in validation) or Dfr (ERM, then its last layer re-fitted on validation's groups).", DefaultValueFactory = _ => OwnPhotosMethod.FlatDebias };
    public Option<int?> Epochs { get; } = new("--epochs") { Description = $"Epochs of the head's training. Default: {DefaultEpochs} ({QuickEpochs} with --quick)." };
    public Option<int> BatchSize { get; } = new("--batch-size") { Description = "Rows per step.", DefaultValueFactory = _ => DefaultBatchSize };
    public Option<int> Seed { get; } = new("--seed") { Description = "The trainers' seed (Options.Seed) and the demo folder's.", DefaultValueFactory = _ => 0 };
    public Option<TrainingDevice> Device { get; } = new("--device") { Description = "Where to train: Auto (CUDA when present), Cpu or Cuda.", DefaultValueFactory = _ => TrainingDevice.Auto };
    public Option<string?> FeatureCache { get; } = new("--feature-cache") { Description = "The folder of feature files, reused while the rows, image files, preprocessing and backbone are the same. Default: features under --output." };
    public Option<string?> DeployFolder { get; } = new("--deploy-folder") { Description = "The test images are copied here (same relative paths) and the saved model scores them from here. Default: deployed under --output." };
    public Option<string> Output { get; } = new("--output") { Description = "Output folder for results.json, the model and the demo folder.", DefaultValueFactory = _ => DefaultOutput };
    public Option<bool> Quick { get; } = new("--quick") { Description = "The smallest setting (24 demo pictures, 5 epochs; for CI); explicit options still win." };

    public RootCommand Create()
    {
        var command = new RootCommand(
            "Your own photos through the pretrained-features recipe: LoadImageList (CSV of relative paths), ImageNetPreprocessing, " +
            "the built-in ImageNet ResNet-18 (PretrainedFeatures), feature files, a debiasing head (FlatDebias or DFR), EvaluateGroups, " +
            "a saved chain from image path to label, and that chain scoring the test images from another folder (LoadWithImageFolder).");
        foreach (var option in new Option[] { Csv, ImageFolder, TrainSplit, ValidationSplit, TestSplit, Method, Epochs, BatchSize, Seed, Device, FeatureCache, DeployFolder, Output, Quick })
            command.Options.Add(option);
        return command;
    }

    /// <summary>Fills in the defaults and checks every value; throws <see cref="UsageException"/> naming the option.</summary>
    public OwnPhotosSettings Resolve(ParseResult result)
    {
        bool quick = result.GetValue(Quick);
        var csv = result.GetValue(Csv);
        if (csv is not null && !File.Exists(csv)) throw new UsageException($"--csv file '{csv}' does not exist.");
        var imageFolder = result.GetValue(ImageFolder);
        if (imageFolder is not null && !Directory.Exists(imageFolder)) throw new UsageException($"--image-folder '{imageFolder}' does not exist.");
        if (imageFolder is not null && csv is null) throw new UsageException("--image-folder needs --csv (the demo folder is drawn beside its CSV).");
        var method = result.GetValue(Method);
        int warmup = new FlatDebiasTrainer.Options().WarmupEpochs;
        int epochs = CommandLineHost.Check(result.GetValue(Epochs) ?? (quick ? QuickEpochs : DefaultEpochs), "--epochs", v => v > warmup, $"must be more than FlatDebias's {warmup} warm-up epoch(s)");
        int batchSize = CommandLineHost.Check(result.GetValue(BatchSize), "--batch-size", v => v >= 1, "must be >= 1");
        var output = result.GetValue(Output) ?? DefaultOutput;
        if (string.IsNullOrWhiteSpace(output)) throw new UsageException("--output must name a folder.");
        string Split(Option<string> option) => result.GetValue(option) is { Length: > 0 } value ? value : throw new UsageException($"{option.Name} must name a split value.");
        return new OwnPhotosSettings
        {
            CsvPath = csv is null ? null : Path.GetFullPath(csv),
            ImageFolder = imageFolder is null ? null : Path.GetFullPath(imageFolder),
            TrainSplit = Split(TrainSplit),
            ValidationSplit = Split(ValidationSplit),
            TestSplit = Split(TestSplit),
            Method = method,
            Epochs = epochs,
            BatchSize = batchSize,
            Seed = result.GetValue(Seed),
            Device = result.GetValue(Device),
            FeatureFolder = Path.GetFullPath(result.GetValue(FeatureCache) ?? Path.Combine(output, "features")),
            DeployFolder = Path.GetFullPath(result.GetValue(DeployFolder) ?? Path.Combine(output, "deployed")),
            OutputFolder = Path.GetFullPath(output),
            Quick = quick,
        };
    }
}
