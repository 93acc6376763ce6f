using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Fisher;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>Settings of the flatness constraint, as <see cref="FlatDebiasTrainer.Options"/> gives them.</summary>
internal sealed record FlatDebiasSettings(
    TraceSettings Trace, double? AbsoluteBound, double BoundQuantile, int WarmupEpochs,
    double DualLearningRate, double MaxDual, int? TopK);

/// <summary>
/// The paper's objective: cross-entropy plus <c>(1/|B|) sum_i lambda_i T_i</c> with one multiplier per training
/// row, updated by the dual step after every optimiser step (<c>METHOD.md</c> section 3). The multipliers stay
/// off during the ERM warm-up; with a quantile bound, the traces of the last warm-up epoch set epsilon.
/// Group labels are never used.
/// </summary>
internal sealed class FlatDebiasObjective : TrainingObjective
{
    private readonly FlatDebiasSettings settings;
    private TraceConstraint? constraint;
    private double traceSum;
    private double traceMax;
    private long traceCount;

    public FlatDebiasObjective(FlatDebiasSettings settings) => this.settings = settings;

    /// <summary>The multipliers and bound (after <see cref="Initialize"/>).</summary>
    public TraceConstraint Constraint => constraint ?? throw new InvalidOperationException("Not initialised.");

    private bool CalibrationEpoch(int epoch) => settings.AbsoluteBound is null && epoch == settings.WarmupEpochs - 1;

    private bool Penalising(int epoch) => epoch >= settings.WarmupEpochs && constraint?.Bound is not null;

    public override void Initialize(TensorDataset training)
    {
        if (constraint is not null && constraint.RowCount == training.Count) return; // restored from a checkpoint
        constraint = new TraceConstraint(training.Count, settings.DualLearningRate, settings.MaxDual, settings.TopK);
        if (settings.AbsoluteBound is double bound) constraint.SetBound(bound);
    }

    public override void OnEpochStart(int epoch)
    {
        traceSum = 0;
        traceMax = double.NegativeInfinity;
        traceCount = 0;
    }

    public override StepResult Step(TrainingBatch batch)
    {
        bool penalising = Penalising(batch.Epoch);
        bool needTraces = penalising || CalibrationEpoch(batch.Epoch) || settings.Trace.Scope == TraceScope.Head;
        if (!needTraces)
        {
            var loss = CrossEntropy(batch.Network.forward(batch.Inputs), batch.Labels, batch.Weights);
            return new StepResult(loss, loss.item<float>(), null);
        }
        var step = FlatnessPenalty.Compute(batch.Network, batch.Inputs, batch.Labels, batch.Weights, batch.Rows,
            constraint, settings.Trace, batch.Generator, penalising);
        var objective = step.Penalty is null ? step.Loss : step.Loss + step.Penalty;
        return new FlatDebiasStepResult(objective, step.Loss.item<float>(), step.Traces, step.Constrained);
    }

    public override void AfterStep(TrainingBatch batch, StepResult result)
    {
        if (result.Traces is null) return;
        var values = result.Traces.to(ScalarType.Float64).cpu().data<double>().ToArray();
        foreach (var v in values)
        {
            traceSum += v;
            traceMax = Math.Max(traceMax, v);
        }
        traceCount += values.Length;
        if (CalibrationEpoch(batch.Epoch)) Constraint.Record(batch.Rows, result.Traces);
        if (Penalising(batch.Epoch)) Constraint.Update(batch.Rows, result.Traces, (result as FlatDebiasStepResult)?.Constrained);
    }

    public override EpochReport OnEpochEnd(int epoch, EpochReport report)
    {
        if (CalibrationEpoch(epoch)) Constraint.CalibrateBound(settings.BoundQuantile);
        var duals = Constraint.Duals;
        return report with
        {
            MeanTrace = traceCount > 0 ? traceSum / traceCount : null,
            MaxTrace = traceCount > 0 ? traceMax : null,
            TraceBound = Constraint.Bound,
            ActiveConstraintShare = (double)Constraint.ActiveCount / duals.Count,
            MeanDual = duals.Average(d => (double)d),
        };
    }

    public override void Save(BinaryWriter writer) => Constraint.Save(writer);

    public override void Load(BinaryReader reader) => constraint = TraceConstraint.Load(reader);

    private sealed record FlatDebiasStepResult(Tensor Objective, double Loss, Tensor? Traces, Tensor Constrained)
        : StepResult(Objective, Loss, Traces);
}
