using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>One mini-batch as an objective sees it.</summary>
/// <param name="Network">The network, in training mode.</param>
/// <param name="Inputs">Features <c>[B, C, H, W]</c>, float32, on the training device.</param>
/// <param name="Labels">Class indices <c>[B]</c>, int64.</param>
/// <param name="Groups">Group indices <c>[B]</c>, int64, or null without a group column.</param>
/// <param name="Weights">Example weights <c>[B]</c>, or null.</param>
/// <param name="Rows">Stable training-row indices <c>[B]</c>, int64, on the CPU.</param>
/// <param name="Epoch">Zero-based epoch.</param>
/// <param name="Generator">This epoch's generator for sampling (seeded from the run's seed and the epoch).</param>
internal sealed record TrainingBatch(ClassifierNetwork Network, Tensor Inputs, Tensor Labels, Tensor? Groups, Tensor? Weights,
    Tensor Rows, int Epoch, Generator Generator);

/// <summary>What an objective may keep from the run: the training set, the network being trained, the device.</summary>
/// <param name="Training">The materialised training set.</param>
/// <param name="Network">The network being trained.</param>
/// <param name="Device">The training device.</param>
/// <param name="EvaluationBatchSize">Rows per batch for passes over the whole training set.</param>
/// <param name="Seed">The run's seed (for generators of passes outside the training steps).</param>
/// <param name="NetworkFactory">Builds a fresh network of the trained one's architecture and starting weights (the
/// trainer's own network construction, on the CPU), for objectives that train a second model (LfF); null when none was given.</param>
internal sealed record ObjectiveContext(TensorDataset Training, ClassifierNetwork Network, Device Device, int EvaluationBatchSize, int Seed,
    Func<ClassifierNetwork>? NetworkFactory = null);

/// <summary>What an objective computed for a step: the tensor to minimise and numbers for the reports.</summary>
/// <param name="Objective">The scalar to back-propagate.</param>
/// <param name="Loss">The plain (weighted) cross-entropy of the batch.</param>
/// <param name="Traces">Detached per-sample traces of the batch, or null.</param>
internal record StepResult(Tensor Objective, double Loss, Tensor? Traces);

/// <summary>
/// What differs between ERM, GroupDRO and FlatDebias: the loss of a batch and any state updated by it (group
/// weights, multipliers). The training loop, model selection and checkpoints live once, in <see cref="TrainingEngine"/>.
/// </summary>
internal abstract class TrainingObjective
{
    /// <summary>Epochs at the start trained as plain ERM, the objective's own terms not yet acting (FlatDebias's warm-up and
    /// the epoch after it; default 0). Model selection keeps one of them only when it scores strictly better than every later
    /// epoch, or never when <see cref="SelectWarmupEpochs"/> is false: a tie goes to an epoch trained by the objective itself.</summary>
    public virtual int UnconstrainedEpochs => 0;

    /// <summary>Whether model selection may keep one of the <see cref="UnconstrainedEpochs"/> at all (default true).</summary>
    public virtual bool SelectWarmupEpochs => true;

    /// <summary>Called once before the first epoch (and again after a resume) with the run's context.</summary>
    public virtual void Initialize(ObjectiveContext context) { }

    /// <summary>Row weights for sampling the epoch's batches, or null for a uniform shuffle.</summary>
    public virtual double[]? SamplingWeights(TensorDataset training) => null;

    /// <summary>Called at the start of every epoch.</summary>
    public virtual void OnEpochStart(int epoch) { }

    /// <summary>The step's objective, computed in the caller's dispose scope.</summary>
    public abstract StepResult Step(TrainingBatch batch);

    /// <summary>Called after the optimiser step with the same batch and result (dual and group-weight updates go here).</summary>
    public virtual void AfterStep(TrainingBatch batch, StepResult result) { }

    /// <summary>Called after every epoch; adds the objective's numbers to the report.</summary>
    public virtual EpochReport OnEpochEnd(int epoch, EpochReport report) => report;

    /// <summary>Per-row numbers at the end of training, or null when the objective has none.</summary>
    public virtual RowDiagnostics? Diagnostics() => null;

    /// <summary>Writes the objective's state for a checkpoint.</summary>
    public virtual void Save(BinaryWriter writer) { }

    /// <summary>Restores the state written by <see cref="Save"/>.</summary>
    public virtual void Load(BinaryReader reader) { }

    /// <summary>Mean cross-entropy, weighted by example weights when present.</summary>
    protected static Tensor CrossEntropy(Tensor logits, Tensor labels, Tensor? weights)
    {
        var perSample = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None);
        return weights is null ? perSample.mean() : (perSample * weights).sum() / weights.sum().clamp_min(HeldScalars.Tiny);
    }
}
