namespace MLNet.FlatDebias.Trainers;

/// <summary>What happened in one training epoch.</summary>
public sealed record EpochReport
{
    /// <summary>Zero-based epoch.</summary>
    public required int Epoch { get; init; }

    /// <summary>Number of epochs of the run.</summary>
    public required int NumberOfEpochs { get; init; }

    /// <summary>Mean training loss (cross-entropy, before any penalty) over the epoch's steps.</summary>
    public required double TrainingLoss { get; init; }

    /// <summary>Mean of the per-sample Fisher traces seen this epoch (FlatDebias; null otherwise).</summary>
    public double? MeanTrace { get; init; }

    /// <summary>Largest per-sample Fisher trace seen this epoch (FlatDebias; null otherwise).</summary>
    public double? MaxTrace { get; init; }

    /// <summary>The trace bound epsilon in force at the end of the epoch (FlatDebias; null before it is set).</summary>
    public double? TraceBound { get; init; }

    /// <summary>Share of training rows with a positive multiplier at the end of the epoch (FlatDebias).</summary>
    public double? ActiveConstraintShare { get; init; }

    /// <summary>Mean multiplier over the training rows (FlatDebias).</summary>
    public double? MeanDual { get; init; }

    /// <summary>GroupDRO's group weights at the end of the epoch, by group name (GroupDRO; null otherwise).</summary>
    public IReadOnlyDictionary<string, double>? GroupWeights { get; init; }

    /// <summary>Validation accuracy (null without a validation set).</summary>
    public double? ValidationAccuracy { get; init; }

    /// <summary>Validation worst-group accuracy (null without a validation group column).</summary>
    public double? ValidationWorstGroupAccuracy { get; init; }

    /// <summary>Validation worst-class accuracy (null without a validation set).</summary>
    public double? ValidationWorstClassAccuracy { get; init; }

    /// <summary>Wall-clock seconds of the epoch (training and validation).</summary>
    public required double Seconds { get; init; }
}

/// <summary>One training step, for live progress.</summary>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Step">Zero-based step within the epoch.</param>
/// <param name="StepsPerEpoch">Steps in the epoch.</param>
/// <param name="Loss">The step's training loss (before any penalty).</param>
/// <param name="MeanTrace">Mean trace of the batch (FlatDebias; null otherwise).</param>
public sealed record StepReport(int Epoch, int Step, int StepsPerEpoch, double Loss, double? MeanTrace);

/// <summary>The per-epoch history of a training run and the epoch the model was taken from.</summary>
/// <param name="Epochs">One report per finished epoch.</param>
/// <param name="SelectedEpoch">The epoch whose weights the model holds.</param>
/// <param name="Selection">The rule that chose it.</param>
public sealed record TrainingHistory(IReadOnlyList<EpochReport> Epochs, int SelectedEpoch, ModelSelection Selection)
{
    /// <summary>Whether the training features were held in a memory-mapped file (<see cref="FeatureCache"/>) rather
    /// than in memory.</summary>
    public bool FeaturesOnDisk { get; init; }
}
