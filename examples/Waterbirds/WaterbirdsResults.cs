using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>What <c>results.json</c> holds.</summary>
public sealed record WaterbirdsResults
{
    /// <summary><c>waterbirds</c> (the real dataset) or <c>waterbirds-mnist</c>.</summary>
    public required string Dataset { get; init; }

    /// <summary>The dataset folder read.</summary>
    public required string DataFolder { get; init; }

    /// <summary>The settings of the run.</summary>
    public required WaterbirdsSettings Settings { get; init; }

    /// <summary>Rows per split and training rows per group.</summary>
    public required DatasetSummary Data { get; init; }

    /// <summary>The FlatDebias constraint settings (the trainer's defaults) other than the searched quantile.</summary>
    public required string FlatDebiasDefaults { get; init; }

    /// <summary>The three methods, each at its selected epoch (FlatDebias at its selected bound), evaluated on test.</summary>
    public required IReadOnlyList<MethodResult> Methods { get; init; }

    /// <summary>The FlatDebias bound search, on validation only.</summary>
    public required IReadOnlyList<EpsilonCandidate> EpsilonSearch { get; init; }

    /// <summary>Per-sample Fisher traces of training rows, majority vs minority groups, at the start and end of training.</summary>
    public required TraceSummary Traces { get; init; }

    /// <summary>The paper's Table 1 (ResNet-50, ImageNet-pretrained, real Waterbirds), percent.</summary>
    public required IReadOnlyList<PaperRow> Paper { get; init; }

    /// <summary>Files written, relative to the output folder.</summary>
    public required IReadOnlyList<string> Files { get; init; }

    /// <summary>Wall-clock seconds of the whole run.</summary>
    public required double Seconds { get; init; }

    /// <summary>With <c>--frozen-backbone</c>: seconds to build (or find) the dataset folder, before any extraction; null otherwise.</summary>
    public double? DatasetSeconds { get; init; }

    /// <summary>With <c>--frozen-backbone</c>: seconds to extract (or reuse) the features of the three splits; null otherwise.</summary>
    public double? ExtractionSeconds { get; init; }

    /// <summary>With <c>--frozen-backbone</c>: seconds to train every method on the features; null otherwise.</summary>
    public double? TrainingSeconds { get; init; }

    /// <summary>With <c>--frozen-backbone</c>: the backbone and the feature extraction of each split; null otherwise.</summary>
    public FeatureExtractionSummary? Extraction { get; init; }
}

/// <summary>The frozen backbone and how each split's features were obtained.</summary>
/// <param name="Backbone">The backbone's fingerprint (name, network, input, feature size, weights hash).</param>
/// <param name="Preprocessing">The preprocessing's description.</param>
/// <param name="Splits">One entry per split.</param>
public sealed record FeatureExtractionSummary(string Backbone, string Preprocessing, IReadOnlyList<SplitFeatures> Splits);

/// <summary>One split's features.</summary>
/// <param name="Split">train, validation or test.</param>
/// <param name="Rows">Images.</param>
/// <param name="File">The feature file.</param>
/// <param name="Reused">Whether an existing file was reused.</param>
/// <param name="Reason">Why it was made, when it was.</param>
/// <param name="Seconds">Seconds to extract (or load) them.</param>
public sealed record SplitFeatures(string Split, int Rows, string File, bool Reused, string? Reason, double Seconds);

/// <summary>Rows per split and training rows per group.</summary>
public sealed record DatasetSummary(int Train, int Validation, int Test, IReadOnlyDictionary<string, int> TrainGroups);

/// <summary>One method's selected model.</summary>
public sealed record MethodResult
{
    /// <summary>ERM, GroupDRO or FlatDebias.</summary>
    public required string Method { get; init; }

    /// <summary>The model file, relative to the output folder.</summary>
    public required string ModelFile { get; init; }

    /// <summary>The epoch (1-based) whose weights were kept: the best validation worst-group accuracy.</summary>
    public required int SelectedEpoch { get; init; }

    /// <summary>Validation worst-group accuracy at the selected epoch.</summary>
    public double? ValidationWorstGroupAccuracy { get; init; }

    /// <summary>FlatDebias: the searched quantile that won, and the bound it gave.</summary>
    public double? TraceBoundQuantile { get; init; }

    /// <summary>FlatDebias: the bound epsilon.</summary>
    public double? TraceBound { get; init; }

    /// <summary>Test accuracy over all rows.</summary>
    public required double TestAverageAccuracy { get; init; }

    /// <summary>Test group accuracies weighted by the training group shares (the Waterbirds convention).</summary>
    public required double TestAdjustedAverageAccuracy { get; init; }

    /// <summary>The lowest test group accuracy.</summary>
    public required double TestWorstGroupAccuracy { get; init; }

    /// <summary>The group with the lowest test accuracy.</summary>
    public required string TestWorstGroup { get; init; }

    /// <summary>Test accuracy by group.</summary>
    public required IReadOnlyList<GroupResult> TestGroups { get; init; }

    /// <summary>Training seconds.</summary>
    public required double Seconds { get; init; }

    /// <summary>The per-epoch history of the run.</summary>
    public required IReadOnlyList<EpochReport> History { get; init; }
}

/// <summary>One group's test accuracy.</summary>
public sealed record GroupResult(string Group, int Rows, double Accuracy);

/// <summary>A row of the paper's table, percent.</summary>
public sealed record PaperRow(string Method, double Average, double WorstGroup);
