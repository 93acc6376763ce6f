using System.Globalization;
using System.Text;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Trainers;

/// <summary>What happened in one training epoch. <see cref="ToString"/> gives one line for a log or a console, with the
/// epoch counted from 1.</summary>
public sealed record EpochReport
{
    /// <summary>Zero-based epoch: 0 for the first epoch (<see cref="ToString"/> prints it counted from 1).</summary>
    public required int Epoch { get; init; }

    /// <summary>Number of epochs of the run (of this stage, for the two-stage trainers).</summary>
    public required int NumberOfEpochs { get; init; }

    /// <summary>The stage of a two-stage trainer (<see cref="JttTrainer"/>, <see cref="PgdTrainer"/>): 1 for the first
    /// (biased) model, 2 for the model the trainer returns; null for the single-stage trainers.</summary>
    public int? Stage { get; init; }

    /// <summary>Mean training loss (cross-entropy, before any penalty) over the epoch's steps.</summary>
    public required double TrainingLoss { get; init; }

    /// <summary>Mean of the per-sample Fisher traces seen this epoch (FlatDebias; null otherwise): the traces of the
    /// model being trained, on this epoch's batches (<c>trace</c> in <see cref="ToString"/>).</summary>
    public double? MeanTrace { get; init; }

    /// <summary>Largest per-sample Fisher trace seen this epoch (FlatDebias; null otherwise).</summary>
    public double? MaxTrace { get; init; }

    /// <summary>The trace bound epsilon in force at the end of the epoch (FlatDebias; null before it is set): with the
    /// default quantile bound it is set at the end of the last warm-up epoch (<c>TraceBoundQuantile</c> of the traces
    /// measured then) and does not change afterwards (<c>bound</c> in <see cref="ToString"/>).</summary>
    public double? TraceBound { get; init; }

    /// <summary>Share of training rows with a positive multiplier at the end of the epoch (FlatDebias): the rows whose
    /// constraint is active, i.e. that carry a penalty (<c>active</c> in <see cref="ToString"/>, of all training rows). 0 %
    /// during the warm-up. With the default <c>TraceReference.WarmupModel</c> the multipliers follow the traces of the
    /// model frozen after the warm-up, not <see cref="MeanTrace"/>: a row stays active while that model's trace exceeds the
    /// bound, so the share settles near the rows above the quantile (about 1 - <c>TraceBoundQuantile</c>, fewer with
    /// <c>TopK</c>) even when the trained model's mean trace is below the bound.</summary>
    public double? ActiveConstraintShare { get; init; }

    /// <summary>Mean multiplier over the training rows (FlatDebias; LfF: the mean loss weight <c>W</c> of the epoch's rows).</summary>
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

    /// <summary>One line, e.g. <c>epoch 3/8  loss 0.2310  trace 0.0123 (bound 0.05, active 3.1 %)  val acc 0.9120
    /// worst group 0.6540  (4.1 s)</c>: the stage of a two-stage trainer (<c>stage 1, </c>), the epoch counted from 1, the mean training loss, the mean trace and the bound
    /// when FlatDebias reports them, the largest GroupDRO weight, the validation accuracy and worst-group accuracy when
    /// there is a validation set, and the epoch's seconds. Invariant culture.</summary>
    /// <returns>The line.</returns>
    public override string ToString()
    {
        var line = new StringBuilder();
        if (Stage is int stage) line.Append(CultureInfo.InvariantCulture, $"stage {stage}, ");
        line.Append(CultureInfo.InvariantCulture, $"epoch {Epoch + 1}/{NumberOfEpochs}  loss {TrainingLoss:F4}");
        if (MeanTrace is double trace)
        {
            line.Append(CultureInfo.InvariantCulture, $"  trace {trace:G3}");
            if (TraceBound is double bound)
                line.Append(CultureInfo.InvariantCulture, $" (bound {bound:G3}, active {100 * (ActiveConstraintShare ?? 0):F1} %)");
        }
        if (GroupWeights is { Count: > 0 } weights)
        {
            var top = weights.MaxBy(w => w.Value);
            line.Append(CultureInfo.InvariantCulture, $"  top group weight {top.Value:F3} ({top.Key})");
        }
        if (ValidationAccuracy is double accuracy) line.Append(CultureInfo.InvariantCulture, $"  val acc {accuracy:F4}");
        if (ValidationWorstGroupAccuracy is double worst) line.Append(CultureInfo.InvariantCulture, $"  worst group {worst:F4}");
        line.Append(CultureInfo.InvariantCulture, $"  ({Seconds:F1} s)");
        return line.ToString();
    }
}

/// <summary>One training step, for live progress. <see cref="ToString"/> gives one line with epoch and step counted from 1.</summary>
/// <param name="Epoch">Zero-based epoch (0 for the first).</param>
/// <param name="Step">Zero-based step within the epoch (0 for the first).</param>
/// <param name="StepsPerEpoch">Steps in the epoch.</param>
/// <param name="Loss">The step's training loss (before any penalty).</param>
/// <param name="MeanTrace">Mean trace of the batch (FlatDebias; null otherwise).</param>
public sealed record StepReport(int Epoch, int Step, int StepsPerEpoch, double Loss, double? MeanTrace)
{
    /// <summary>One line, e.g. <c>epoch 2, step 14/75  loss 0.4120  trace 0.0311</c> (epoch and step counted from 1).</summary>
    /// <returns>The line.</returns>
    public override string ToString()
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"epoch {Epoch + 1}, step {Step + 1}/{StepsPerEpoch}  loss {Loss:F4}");
        return MeanTrace is double trace ? line + string.Create(CultureInfo.InvariantCulture, $"  trace {trace:G3}") : line;
    }
}

/// <summary>The per-epoch history of a training run and the epoch the model was taken from; for a model re-headed by
/// <see cref="DfrTrainer"/> or <see cref="DpeTrainer"/>, the history of the model it started from plus <see cref="Dfr"/> or
/// <see cref="Dpe"/>.</summary>
/// <param name="Epochs">One report per finished epoch.</param>
/// <param name="SelectedEpoch">The zero-based epoch whose weights the model holds (an index into <paramref name="Epochs"/>;
/// add 1 to print it as people count epochs).</param>
/// <param name="Selection">The rule that chose it.</param>
public sealed record TrainingHistory(IReadOnlyList<EpochReport> Epochs, int SelectedEpoch, ModelSelection Selection)
{
    /// <summary>Whether the training features were held in a memory-mapped file (<see cref="FeatureCache"/>) rather
    /// than in memory.</summary>
    public bool FeaturesOnDisk { get; init; }

    /// <summary>The warnings given before the first step (<see cref="NetworkTrainerOptions.Warnings"/>); empty when none.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The first stage of a two-stage trainer (<see cref="JttTrainer"/>, <see cref="PgdTrainer"/>): its epochs
    /// and the per-row weights it gave the second stage; null for the single-stage trainers. <see cref="Epochs"/> and
    /// <see cref="SelectedEpoch"/> are the second stage's.</summary>
    public FirstStageSummary? FirstStage { get; init; }

    /// <summary>For a model whose last layer <see cref="DfrTrainer"/> re-trained: the chosen inverse regularisation, the
    /// held-out worst-group accuracy of every value tried and the retrains averaged. Null for any other model (the
    /// epochs above are then the whole story; after DFR they describe the backbone's training).</summary>
    public DfrReport? Dfr { get; init; }

    /// <summary>For a model whose last layer a full-batch last-layer method re-fitted (<see cref="AfrTrainer"/>,
    /// <see cref="FlatDebiasLastLayerTrainer"/>): every grid point with its best validation epoch and score, and the one
    /// chosen. Null for any other model.</summary>
    public LastLayerSearchReport? LastLayerSearch { get; init; }

    /// <summary>For a model whose last layer <see cref="DpeTrainer"/> replaced by a prototype ensemble: the members'
    /// subsets, chosen epochs and held-out scores, and the ensemble's. Null for any other model (after DPE the epochs
    /// above describe the backbone's training).</summary>
    public DpeReport? Dpe { get; init; }
}

/// <summary>What the first stage of a two-stage trainer produced.</summary>
/// <param name="Epochs">The first stage's epochs (<see cref="EpochReport.Stage"/> 1); its model is the last epoch's.</param>
/// <param name="RowWeights">One weight per training row, in the order of the training data view: how the second stage
/// samples (or weights the loss of) each row. JTT: <c>UpweightFactor</c> for the rows the first-stage model
/// misclassifies, 1 for the others; PGD: the sampling probability, proportional to the row's last-layer gradient norm
/// under the first-stage model (summing to 1).</param>
/// <param name="UpweightedRows">The rows the first stage singled out (0-based row indices, ascending): JTT's error set;
/// for PGD, the rows drawn more often than under uniform sampling (probability above 1/N).</param>
public sealed record FirstStageSummary(IReadOnlyList<EpochReport> Epochs, IReadOnlyList<double> RowWeights, IReadOnlyList<int> UpweightedRows);
