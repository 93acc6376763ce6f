using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>How the per-sample trace is defined and computed for the penalty.</summary>
/// <param name="Scope">Head or full network.</param>
/// <param name="Estimator">The label expectation.</param>
/// <param name="Gradient">The penalty's gradient path.</param>
/// <param name="UseReferenceLoop">For benchmarks and tests only: the per-sample loop instead of the fast path (full scope).</param>
internal sealed record TraceSettings(TraceScope Scope, TraceEstimator Estimator, TraceGradient Gradient, bool UseReferenceLoop = false);

/// <summary>The result of one penalised forward pass.</summary>
/// <param name="Loss">The mean (weighted) cross-entropy of the batch, in the graph.</param>
/// <param name="Penalty">The penalty <c>(1/|B|) sum_i lambda_i T_i</c> over the constrained rows with positive
/// multipliers, in the graph; null when no row of the batch needed it.</param>
/// <param name="Traces">Detached traces of every row of the batch <c>[B]</c> (for the dual step and statistics).</param>
/// <param name="Constrained">Which rows the dual step updates <c>[B]</c>.</param>
/// <param name="PenalisedRows">How many rows had the penalty's gradient computed.</param>
internal sealed record PenaltyStep(Tensor Loss, Tensor? Penalty, Tensor Traces, Tensor Constrained, int PenalisedRows);

/// <summary>
/// One step's loss and flatness penalty: the training forward pass gives the loss (and, for
/// <see cref="TraceScope.Head"/>, the traces); <see cref="TraceScope.Full"/> traces come from evaluation-mode
/// passes (<see cref="FisherTrace"/>). Only rows that are constrained and have a positive multiplier get the
/// penalty's gradient: when none do, the traces are computed without a graph; when few do, the
/// differentiable pass runs on those rows only.
/// </summary>
internal static class FlatnessPenalty
{
    /// <param name="network">The network, in training mode.</param>
    /// <param name="inputs">The batch.</param>
    /// <param name="labels">Class indices.</param>
    /// <param name="weights">Example weights, or null.</param>
    /// <param name="rows">Stable row indices of the batch.</param>
    /// <param name="constraint">The multipliers, or null for traces only.</param>
    /// <param name="settings">The trace definition.</param>
    /// <param name="generator">Generator for sampled labels.</param>
    /// <param name="withPenalty">Whether multipliers apply this step.</param>
    /// <param name="dualTraces">Traces that choose the constrained rows (top-k) instead of the step's own, e.g. a
    /// frozen reference model's; null to use the step's traces.</param>
    public static PenaltyStep Compute(ClassifierNetwork network, Tensor inputs, Tensor labels, Tensor? weights, Tensor rows,
        TraceConstraint? constraint, TraceSettings settings, Generator? generator, bool withPenalty, Tensor? dualTraces = null)
    {
        long batch = inputs.shape[0];
        var features = network.Features(inputs);
        var logits = network.Head.call(features);
        var perSample = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None);
        var loss = weights is null ? perSample.mean() : (perSample * weights).sum() / weights.sum().clamp_min(HeldScalars.Tiny);
        using Scalar batchSize = ((double)batch).ToScalar(); // held across every division below (HeldScalars)

        Tensor? sampled = settings.Estimator == TraceEstimator.Sampled ? FisherTrace.SampleLabels(logits, generator) : null;
        var multipliers = withPenalty && constraint is not null
            ? constraint.Multipliers(rows, logits.dtype, logits.device)
            : zeros(batch, dtype: logits.dtype, device: logits.device);
        // A trace penalty is lambda_i T_i, or lambda_i T_i / epsilon relative to the bound; the loss penalty is lambda_i l_i.
        double traceFactor = constraint?.TracePenaltyFactor ?? 1;
        if (settings.Gradient != TraceGradient.Loss && traceFactor != 1)
        {
            using Scalar factor = traceFactor.ToScalar();
            multipliers = multipliers.mul(factor);
        }
        bool anyPositive = withPenalty && multipliers.gt(HeldScalars.Zero).any().item<bool>();

        if (settings.Gradient == TraceGradient.Loss)
        {
            // The traces choose and weight the rows; the penalty is the loss of those rows.
            var values = settings.Scope == TraceScope.Head
                ? HeadTraces(features.detach(), logits.detach(), labels, sampled, settings)
                : GhostNormFisherTrace.Compute(network, inputs, settings.Estimator, labels, TraceGradient.Full, false, generator, sampled);
            var constrained = constraint?.Constrained(dualTraces ?? values) ?? ones(batch, dtype: ScalarType.Bool);
            if (!anyPositive) return new PenaltyStep(loss, null, values, constrained, 0);
            var active = multipliers * constrained.to(multipliers.dtype);
            var weighted = weights is null ? perSample : perSample * weights;
            int penalised = (int)active.gt(HeldScalars.Zero).sum().item<long>();
            return new PenaltyStep(loss, (active * weighted).sum().div(batchSize), values, constrained, penalised);
        }

        if (settings.Scope == TraceScope.Head)
        {
            var traces = HeadTraces(features, logits, labels, sampled, settings);
            var constrained = constraint?.Constrained(dualTraces ?? traces.detach()) ?? ones(batch, dtype: ScalarType.Bool);
            if (!anyPositive) return new PenaltyStep(loss, null, traces.detach(), constrained, 0);
            var active = multipliers * constrained.to(multipliers.dtype);
            int penalised = (int)active.gt(HeldScalars.Zero).sum().item<long>();
            return new PenaltyStep(loss, (active * traces).sum().div(batchSize), traces.detach(), constrained, penalised);
        }

        // Full scope. Pass sampled labels explicitly so every pass uses the same draw.
        Tensor FullTraces(Tensor x, Tensor y, Tensor? s, bool graph) => settings.UseReferenceLoop
            ? PerSampleLoopFisherTrace.Compute(network, x, settings.Estimator, y, s, graph)
            : GhostNormFisherTrace.Compute(network, x, settings.Estimator, y, settings.Gradient, graph, generator, s);

        if (!anyPositive)
        {
            var values = FullTraces(inputs, labels, sampled, graph: false);
            return new PenaltyStep(loss, null, values, constraint?.Constrained(dualTraces ?? values) ?? ones(batch, dtype: ScalarType.Bool), 0);
        }

        long positive = multipliers.gt(HeldScalars.Zero).sum().item<long>();
        if (constraint!.TopK is null && positive * 2 >= batch)
        {
            var traces = FullTraces(inputs, labels, sampled, graph: true);
            var constrained = ones(batch, dtype: ScalarType.Bool);
            return new PenaltyStep(loss, (multipliers * traces).sum().div(batchSize), traces.detach(), constrained, (int)positive);
        }

        if (constraint.TopK is null)
        {
            // Every row is constrained whatever its trace: the rows with a positive multiplier get the differentiable
            // pass (which gives their values too) and only the others a values-only pass, so no row is computed twice.
            var positiveMask = multipliers.gt(HeldScalars.Zero);
            var penalisedRows = nonzero(positiveMask).squeeze(1);
            var otherRows = nonzero(positiveMask.logical_not()).squeeze(1);
            var penalisedTraces = FullTraces(inputs.index_select(0, penalisedRows), labels.index_select(0, penalisedRows),
                sampled?.index_select(0, penalisedRows), graph: true);
            var values = zeros(batch, dtype: penalisedTraces.dtype, device: penalisedTraces.device);
            values.index_copy_(0, penalisedRows, penalisedTraces.detach());
            if (otherRows.shape[0] > 0)
                values.index_copy_(0, otherRows, FullTraces(inputs.index_select(0, otherRows), labels.index_select(0, otherRows),
                    sampled?.index_select(0, otherRows), graph: false));
            var all = ones(batch, dtype: ScalarType.Bool);
            var penaltyOfRows = (multipliers.index_select(0, penalisedRows) * penalisedTraces).sum().div(batchSize);
            return new PenaltyStep(loss, penaltyOfRows, values, all, (int)penalisedRows.shape[0]);
        }

        var detached = FullTraces(inputs, labels, sampled, graph: false);
        var mask = constraint.Constrained(dualTraces ?? detached);
        var selected = nonzero(mask.logical_and(multipliers.gt(HeldScalars.Zero))).squeeze(1);
        if (selected.shape[0] == 0) return new PenaltyStep(loss, null, detached, mask, 0);
        var subsetTraces = FullTraces(inputs.index_select(0, selected), labels.index_select(0, selected),
            sampled?.index_select(0, selected), graph: true);
        var penalty = (multipliers.index_select(0, selected) * subsetTraces).sum().div(batchSize);
        return new PenaltyStep(loss, penalty, detached, mask, (int)selected.shape[0]);
    }

    private static Tensor HeadTraces(Tensor features, Tensor logits, Tensor labels, Tensor? sampled, TraceSettings settings)
    {
        // Sampled head traces use the draw made once for the step: the empirical formula at the drawn label.
        var estimator = settings.Estimator == TraceEstimator.Sampled ? TraceEstimator.Empirical : settings.Estimator;
        return FisherTrace.Head(features, logits, estimator, sampled ?? labels, settings.Gradient);
    }
}
