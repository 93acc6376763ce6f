using MLNet.FlatDebias.Common;
using System.Globalization;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>
/// FlatDebias on the last layer (this library's method): keeps a fitted model's network frozen and re-fits its last layer
/// on rows the model did not train on, as AFR and DFR do, with the paper's constraint: every row's Fisher trace of the head
/// at most a bound, solved by primal-dual steps with one multiplier per row. On a linear head the trace has a closed form,
/// <c>T_i = phi(p_i) (||h_i||^2 + 1)</c>, exact and cheap, and with frozen features the head's trace is the whole trained
/// network's. No group label is needed to train; validation groups (or the classes) choose the bound, the dual step and
/// the epoch, as for AFR.
/// </summary>
/// <remarks>
/// <para><b>Algorithm</b>: the bound of each grid point is the <c>q</c>-quantile of the fitted head's traces of the rows,
/// so that the share <c>1 - q</c> of the rows starts in violation; every grid point's head starts at the fitted head and
/// takes full-batch SGD steps (as <see cref="AfrTrainer"/>: <see cref="LastLayerSearchOptions"/>) on
/// <c>(1/N) sum_i [c_i CE_i + mu_i P_i]</c> (<c>c_i</c> balances the classes; the penalty <c>P_i</c> is the row's
/// cross-entropy by default, or its relative violation <c>T_i / eps - 1</c>: <see cref="Options.Penalty"/>), and after each
/// step each row's multiplier grows by <c>eta (T_i / eps - 1)</c>, clipped to [0, <see cref="Options.MaxDual"/>]. With the empirical trace
/// (<c>phi = ||e_y - p||^2</c>, the default) a row the head gets wrong violates until the head fits it, and its multiplier
/// stops growing once it does: an adaptive form of the fixed up-weighting of AFR and JTT. With the paper's exact trace
/// (<c>phi = 1 - ||p||^2</c>, <see cref="TraceEstimator.Exact"/>) the constraint asks for confident predictions, right or
/// wrong. Why this design and what it measured: <c>docs/method.md</c>.</para>
/// <para><b>Output</b>: <c>Score</c>, <c>PredictedLabel</c>; the frozen network plus the new linear layer, one ONNX graph;
/// <see cref="TrainingHistory.LastLayerSearch"/> lists every grid point.</para>
/// </remarks>
public sealed class FlatDebiasLastLayerTrainer : LastLayerSearchTrainer<FlatDebiasLastLayerTrainer.Options>
{
    internal FlatDebiasLastLayerTrainer(ClassifierNetworkTransformer fittedModel, Options options) : base(fittedModel, options, "FlatDebias last layer")
    {
    }

    /// <summary>Options of <see cref="FlatDebiasLastLayerTrainer"/>.</summary>
    public sealed class Options : LastLayerSearchOptions
    {
        /// <summary>The bounds to try, as quantiles of the fitted head's traces of the rows. Default {0.5, 0.6, 0.7, 0.8, 0.9,
        /// 0.95}. Range: at least one value, each in (0, 1).</summary>
        public double[] TraceBoundQuantiles { get; set; } = TrainerDefaults.LastLayerTraceBoundQuantiles();

        /// <summary>The dual steps eta to try (per unit of relative violation). Default {0.01, 0.1, 1}. Range: at least one
        /// value, each &gt; 0 and finite.</summary>
        public double[] DualLearningRates { get; set; } = TrainerDefaults.LastLayerDualLearningRates();

        /// <summary>The multipliers' cap (a row's loss weight is 1 on average). Default 100. Range: &gt; 0 and finite.</summary>
        public double MaxDual { get; set; } = 100;

        /// <summary>The pull towards the fitted head, <c>lambda (||W - W0||^2 + ||b - b0||^2)</c>. Default 0. Range: &gt;= 0 and finite.</summary>
        public double PullStrength { get; set; }

        /// <summary>Which trace: <see cref="TraceEstimator.Empirical"/> (default: the true label's gradient, large for rows
        /// the head gets wrong) or <see cref="TraceEstimator.Exact"/> (the paper's definition). Sampled is not offered: the
        /// exact value costs nothing on a linear head.</summary>
        public TraceEstimator Estimator { get; set; } = TraceEstimator.Empirical;

        /// <summary>What a constrained row's multiplier weighs: <see cref="TraceGradient.Loss"/> (default, as the library's
        /// FlatDebias: its cross-entropy, whose gradient keeps pulling a confidently wrong row, while the trace decides the
        /// multiplier) or <see cref="TraceGradient.Full"/> (the trace itself, the paper's Lagrangian; its gradient vanishes on
        /// a confidently wrong row). On a frozen head <see cref="TraceGradient.ProbabilitiesOnly"/> is the same as Full and
        /// is not offered.</summary>
        public TraceGradient Penalty { get; set; } = TraceGradient.Loss;
    }

    private protected override void ValidateMethodOptions()
    {
        var o = TrainerOptions;
        RequireGrid(o.TraceBoundQuantiles, nameof(o.TraceBoundQuantiles), v => v > 0 && v < 1, "must hold values in (0, 1)");
        RequireGrid(o.DualLearningRates, nameof(o.DualLearningRates), v => v > 0 && double.IsFinite(v), "must hold values > 0 and finite");
        Require(o.MaxDual > 0 && double.IsFinite(o.MaxDual), nameof(o.MaxDual), o.MaxDual, "must be > 0 and finite");
        Require(o.PullStrength >= 0 && double.IsFinite(o.PullStrength), nameof(o.PullStrength), o.PullStrength, "must be >= 0 and finite");
        Require(o.Estimator is TraceEstimator.Empirical or TraceEstimator.Exact, nameof(o.Estimator), o.Estimator, "must be Empirical or Exact");
        Require(o.Penalty is TraceGradient.Loss or TraceGradient.Full, nameof(o.Penalty), o.Penalty, "must be Loss or Full");
    }

    private protected override SearchGrid CreateGrid(FrozenModelRows rows, Tensor features, Tensor w0, Tensor b0)
    {
        var o = TrainerOptions;
        var initial = InitialTraces(features, w0, b0, rows.Labels, rows.ClassCount, o.Estimator);
        var bounds = new List<double>();
        var steps = new List<double>();
        var values = new List<string>();
        foreach (var q in o.TraceBoundQuantiles)
        {
            double bound = Quantile(initial, q);
            foreach (var eta in o.DualLearningRates)
            {
                bounds.Add(bound);
                steps.Add(eta);
                values.Add(string.Create(CultureInfo.InvariantCulture, $"quantile={q:G6};dual-step={eta:G6}"));
            }
        }
        var objective = new FlatDebiasLastLayerObjective(features, rows.Labels, rows.ClassCount, w0, b0, bounds, steps,
            Enumerable.Repeat(o.PullStrength, bounds.Count).ToArray(), o.MaxDual, o.Estimator, o.Penalty);
        return new SearchGrid(objective, values);
    }

    /// <summary>The fitted head's trace of every row.</summary>
    internal static double[] InitialTraces(Tensor features, Tensor w0, Tensor b0, IReadOnlyList<int> labels, int classCount, TraceEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var x = features.to(ScalarType.Float64);
        var logits = (x.matmul(w0.to(ScalarType.Float64).t()) + b0.to(ScalarType.Float64)).unsqueeze(0);
        var factor = x.pow(HeldScalars.Two).sum(1) + 1.0;
        var traces = FlatDebiasLastLayerObjective.Traces(logits, tensor(labels.Select(l => (long)l).ToArray()), factor, estimator, classCount);
        return traces.view(-1).data<double>().ToArray();
    }

    /// <summary>The <paramref name="q"/>-quantile of <paramref name="values"/>, linear between order statistics (numpy's default).</summary>
    internal static double Quantile(IReadOnlyList<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        double position = q * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
    }
}
