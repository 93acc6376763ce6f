using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Fisher;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>Settings of the flatness constraint, as <see cref="FlatDebiasTrainer.Options"/> gives them.</summary>
internal sealed record FlatDebiasSettings(
    TraceSettings Trace, double? AbsoluteBound, double BoundQuantile, int WarmupEpochs,
    double DualLearningRate, double MaxDual, int? TopK, TraceReference Reference = TraceReference.TrainedModel,
    MultiplierUse Use = MultiplierUse.Penalty, ViolationScale Scale = ViolationScale.Absolute, bool SelectWarmupEpochs = true);

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
    private ObjectiveContext? context;
    private float[]? referenceTraces;
    private int currentEpoch;
    private readonly List<float[]> tracesByEpoch = [];
    private readonly List<float[]> multipliersByEpoch = [];
    private float[]? epochTraces;
    private double traceSum;
    private double traceMax;
    private long traceCount;

    public FlatDebiasObjective(FlatDebiasSettings settings) => this.settings = settings;

    /// <summary>The multipliers and bound (after <see cref="Initialize"/>).</summary>
    public TraceConstraint Constraint => constraint ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>The warm-up and the epoch after it: a row's multiplier moves only after the step that visits it, once an
    /// epoch, so in the first penalised epoch every row carries a multiplier of 0 at its visit and the epoch is plain ERM.</summary>
    public override int UnconstrainedEpochs => settings.WarmupEpochs + 1;

    public override bool SelectWarmupEpochs => settings.SelectWarmupEpochs;

    private bool UsesReference => settings.Reference == TraceReference.WarmupModel;

    private bool LastWarmupEpoch(int epoch) => epoch == settings.WarmupEpochs - 1;

    /// <summary>Traces are recorded over the last warm-up epoch to set a quantile bound (trained-model reference only).</summary>
    private bool RecordingEpoch(int epoch) => settings.AbsoluteBound is null && !UsesReference && LastWarmupEpoch(epoch);

    private bool Penalising(int epoch) => epoch >= settings.WarmupEpochs && constraint?.Bound is not null;

    public override void Initialize(ObjectiveContext context)
    {
        this.context = context;
        if (constraint is not null && constraint.RowCount == context.Training.Count) return; // restored from a checkpoint
        constraint = new TraceConstraint(context.Training.Count, settings.DualLearningRate, settings.MaxDual, settings.TopK, settings.Scale);
        if (settings.AbsoluteBound is double bound) constraint.SetBound(bound);
        if (UsesReference && settings.WarmupEpochs == 0) MeasureReference(-1);
    }

    public override double[]? SamplingWeights(TensorDataset training)
    {
        if (settings.Use != MultiplierUse.Sampling || !Penalising(currentEpoch)) return null;
        return Constraint.Duals.Select(d => 1.0 + d).ToArray();
    }

    public override void OnEpochStart(int epoch)
    {
        currentEpoch = epoch;
        epochTraces = new float[Constraint.RowCount];
        Array.Fill(epochTraces, float.NaN);
        traceSum = 0;
        traceMax = double.NegativeInfinity;
        traceCount = 0;
    }

    public override StepResult Step(TrainingBatch batch)
    {
        bool penalising = Penalising(batch.Epoch);
        bool needTraces = penalising || RecordingEpoch(batch.Epoch) || settings.Trace.Scope == TraceScope.Head;
        if (!needTraces)
        {
            var loss = CrossEntropy(batch.Network.forward(batch.Inputs), batch.Labels, batch.Weights);
            return new StepResult(loss, loss.item<float>(), null);
        }
        var step = FlatnessPenalty.Compute(batch.Network, batch.Inputs, batch.Labels, batch.Weights, batch.Rows,
            constraint, settings.Trace, batch.Generator, penalising && settings.Use == MultiplierUse.Penalty, DualTraces(batch.Rows));
        // add with a held alpha: `+` makes a finalisable alpha = 1 that libtorch once read freed (HeldScalars).
        var objective = step.Penalty is null ? step.Loss : step.Loss.add(step.Penalty, HeldScalars.One);
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
        if (epochTraces is not null)
        {
            var rows = batch.Rows.data<long>().ToArray();
            for (int i = 0; i < rows.Length; i++) epochTraces[rows[i]] = (float)values[i];
        }
        if (RecordingEpoch(batch.Epoch)) Constraint.Record(batch.Rows, result.Traces);
        if (Penalising(batch.Epoch))
        {
            using var dualTraces = DualTraces(batch.Rows);
            Constraint.Update(batch.Rows, dualTraces ?? result.Traces, (result as FlatDebiasStepResult)?.Constrained);
        }
    }

    public override EpochReport OnEpochEnd(int epoch, EpochReport report)
    {
        if (LastWarmupEpoch(epoch))
        {
            if (UsesReference) MeasureReference(epoch);
            else if (settings.AbsoluteBound is null) Constraint.CalibrateBound(settings.BoundQuantile);
        }
        if (epochTraces is not null) tracesByEpoch.Add(epochTraces);
        epochTraces = null;
        var duals = Constraint.Duals;
        multipliersByEpoch.Add(duals.ToArray());
        return report with
        {
            MeanTrace = traceCount > 0 ? traceSum / traceCount : null,
            MaxTrace = traceCount > 0 ? traceMax : null,
            TraceBound = Constraint.Bound,
            ActiveConstraintShare = (double)Constraint.ActiveCount / duals.Count,
            MeanDual = duals.Average(d => (double)d),
        };
    }

    public override RowDiagnostics? Diagnostics() => constraint is null ? null
        : new RowDiagnostics(constraint.Duals.ToArray(), (referenceTraces ?? constraint.RecordedTraces.ToArray()).ToArray(), constraint.Bound, tracesByEpoch)
        {
            MultipliersByEpoch = multipliersByEpoch,
        };

    public override void Save(BinaryWriter writer)
    {
        Constraint.Save(writer);
        writer.Write(referenceTraces is not null);
        if (referenceTraces is null) return;
        writer.Write(referenceTraces.Length);
        foreach (var t in referenceTraces) writer.Write(t);
    }

    public override void Load(BinaryReader reader)
    {
        constraint = TraceConstraint.Load(reader);
        referenceTraces = null;
        if (!reader.ReadBoolean()) return;
        referenceTraces = new float[reader.ReadInt32()];
        for (int i = 0; i < referenceTraces.Length; i++) referenceTraces[i] = reader.ReadSingle();
    }

    /// <summary>The traces that drive the dual step for these rows: the frozen reference's, or null for the step's own.</summary>
    private Tensor? DualTraces(Tensor rows)
    {
        if (referenceTraces is null) return null;
        var r = rows.data<long>().ToArray();
        var values = new float[r.Length];
        for (int i = 0; i < r.Length; i++) values[i] = referenceTraces[r[i]];
        return tensor(values);
    }

    /// <summary>Measures every training row's trace with the network as it is now (evaluation mode, no graph): the
    /// frozen-model row pass JTT's error set and PGD's gradient norms also use.</summary>
    private void MeasureReference(int epoch)
    {
        var ctx = context ?? throw new InvalidOperationException("Not initialised.");
        var training = ctx.Training;
        using var generator = new Generator(BatchOrder.EpochSeed(ctx.Seed, epoch, 0x7EF), ctx.Device);
        var traces = FrozenModelRowScores.Compute(ctx.Network, training, ctx.Device, ctx.EvaluationBatchSize, (network, x, y) =>
        {
            if (settings.Trace.Scope != TraceScope.Head)
                return FisherTrace.Full(network, x, settings.Trace.Estimator, y, createGraph: false, generator: generator);
            using var noGrad = no_grad();
            var h = network.Features(x);
            return FisherTrace.Head(h, network.Head.call(h), settings.Trace.Estimator, y, generator: generator);
        });
        referenceTraces = traces;
        using var allRows = arange(training.Count, dtype: ScalarType.Int64);
        using var all = tensor(traces);
        Constraint.Record(allRows, all);
        if (settings.AbsoluteBound is null) Constraint.CalibrateBound(settings.BoundQuantile);
    }

    private sealed record FlatDebiasStepResult(Tensor Objective, double Loss, Tensor? Traces, Tensor Constrained)
        : StepResult(Objective, Loss, Traces);
}
