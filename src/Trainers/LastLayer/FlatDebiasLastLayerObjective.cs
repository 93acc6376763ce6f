using TorchSharp;
using MLNet.FlatDebias.Common;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>
/// FlatDebias's last-layer objective for every grid point at once: the class-balanced mean cross-entropy subject to every
/// row's head Fisher trace <c>T_i = phi(p_i) (||h_i||^2 + 1)</c> at most the bound <c>eps</c>, by primal-dual steps with
/// one multiplier per row and grid point. The minimised objective is
/// <c>(1/N) sum_i [c_i CE_i + mu_i P_i] + lambda (||W - W0||^2 + ||b - b0||^2)</c> with the penalty <c>P_i = CE_i</c>
/// (<see cref="TraceGradient.Loss"/>, the library's form: the trace's own gradient vanishes on a confidently wrong row) or
/// <c>P_i = T_i / eps - 1</c> (the trace, <see cref="TraceGradient.Full"/>), the violation relative to the
/// bound (the scale-free unit, <see cref="ViolationScale.RelativeToBound"/>), <c>c_i = N / (K N_{y_i})</c>; after each step
/// <c>mu_i &lt;- clip(mu_i + eta (T_i / eps - 1), 0, MaxDual)</c>. <c>phi = ||e_y - p||^2</c> for the empirical trace (large
/// for rows the head gets wrong), <c>1 - ||p||^2</c> for the paper's (large for rows it is unsure of). The bound of each
/// grid point is a quantile of the fitted head's traces of the same rows, so the rows above it start in violation.
/// </summary>
internal sealed class FlatDebiasLastLayerObjective : IHeadObjective, IDisposable
{
    private readonly Tensor _labels;        // [N]
    private readonly Tensor _classWeights;  // [N], c_i
    private readonly Tensor _featureFactor; // [N], ||h||^2 + 1
    private readonly Tensor _bounds;        // [G, 1]
    private readonly Tensor _dualSteps;     // [G, 1]
    private readonly Tensor _pulls;         // [G]
    private readonly Tensor _w0;
    private readonly Tensor _b0;
    private readonly double _maxDual;
    private readonly TraceEstimator _estimator;
    private readonly bool _lossPenalty;
    private readonly int _classCount;

    /// <param name="features">The rows' features <c>[N, D]</c>.</param>
    /// <param name="labels">The rows' classes.</param>
    /// <param name="classCount">K.</param>
    /// <param name="w0">The fitted head's weights.</param>
    /// <param name="b0">The fitted head's biases.</param>
    /// <param name="bounds">Each grid point's bound (trace units).</param>
    /// <param name="dualSteps">Each grid point's dual step.</param>
    /// <param name="pulls">Each grid point's pull towards the fitted head.</param>
    /// <param name="maxDual">The multipliers' cap.</param>
    /// <param name="estimator">Exact (the paper's) or Empirical.</param>
    /// <param name="penalty"><see cref="TraceGradient.Loss"/>: a row's penalty is <c>mu_i CE_i</c>;
    /// <see cref="TraceGradient.Full"/>: <c>mu_i (T_i / eps - 1)</c>, the trace itself.</param>
    public FlatDebiasLastLayerObjective(Tensor features, IReadOnlyList<int> labels, int classCount, Tensor w0, Tensor b0,
        IReadOnlyList<double> bounds, IReadOnlyList<double> dualSteps, IReadOnlyList<double> pulls, double maxDual, TraceEstimator estimator,
        TraceGradient penalty = TraceGradient.Loss)
    {
        int n = labels.Count;
        var classRows = new int[classCount];
        foreach (var l in labels) classRows[l]++;
        int present = classRows.Count(c => c > 0);
        _labels = tensor(labels.Select(l => (long)l).ToArray());
        _classWeights = tensor(labels.Select(l => (float)((double)n / (present * classRows[l]))).ToArray());
        _featureFactor = features.pow(HeldScalars.Two).sum(1).add(HeldScalars.One, HeldScalars.One); // + 1, scalars held (HeldScalars)
        _bounds = tensor(bounds.Select(b => (float)Math.Max(b, 1e-12)).ToArray()).view(-1, 1);
        _dualSteps = tensor(dualSteps.Select(s => (float)s).ToArray()).view(-1, 1);
        _pulls = tensor(pulls.Select(p => (float)p).ToArray());
        _w0 = w0.detach().clone();
        _b0 = b0.detach().clone();
        _maxDual = maxDual;
        _estimator = estimator;
        _lossPenalty = penalty == TraceGradient.Loss;
        _classCount = classCount;
        Multipliers = zeros(bounds.Count, n);
    }

    /// <summary>The multipliers <c>[G, N]</c>, updated in place after every step.</summary>
    public Tensor Multipliers { get; }

    /// <summary>Each grid point's trace of each row, <c>[G, N]</c>, for logits <c>[G, N, K]</c>.</summary>
    public Tensor Traces(Tensor logits) => Traces(logits, _labels, _featureFactor, _estimator, _classCount);

    /// <summary>The head traces <c>phi(p) (||h||^2 + 1)</c> of logits <c>[G, N, K]</c>.</summary>
    internal static Tensor Traces(Tensor logits, Tensor labels, Tensor featureFactor, TraceEstimator estimator, int classCount)
    {
        var p = logits.softmax(2);
        Tensor phi = estimator switch
        {
            TraceEstimator.Exact => p.pow(HeldScalars.Two).sum(2).neg().add(HeldScalars.One, HeldScalars.One), // 1 - sum p^2
            TraceEstimator.Empirical => (p - nn.functional.one_hot(labels, classCount).to(p.dtype).unsqueeze(0)).pow(HeldScalars.Two).sum(2),
            _ => throw new NotSupportedException($"FlatDebias's last layer computes the Exact or the Empirical trace, not {estimator}."),
        };
        return phi * featureFactor.unsqueeze(0);
    }

    /// <inheritdoc/>
    public Tensor Loss(Tensor logits, Tensor weights, Tensor biases)
    {
        var crossEntropy = AfrObjective.RowCrossEntropy(logits, _labels); // [G, N]
        var pull = (weights - _w0).pow(HeldScalars.Two).sum([1, 2]).add((biases - _b0).pow(HeldScalars.Two).sum(1), HeldScalars.One);
        var penalty = _lossPenalty ? crossEntropy : (Traces(logits) / _bounds).sub(HeldScalars.One);
        var perRow = (crossEntropy * _classWeights.unsqueeze(0)).add(Multipliers * penalty, HeldScalars.One);
        return perRow.mean([1]).add(_pulls * pull, HeldScalars.One).sum();
    }

    /// <inheritdoc/>
    public bool UpdatesAfterStep => true;

    /// <inheritdoc/>
    public void AfterStep(Tensor logits)
    {
        using var scope = NewDisposeScope();
        var violation = (Traces(logits) / _bounds).sub(HeldScalars.One);
        using Scalar cap = _maxDual.ToScalar(); // held across the call (HeldScalars)
        Multipliers.add_(violation * _dualSteps, HeldScalars.One).clamp_(HeldScalars.Zero, cap);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in new[] { _labels, _classWeights, _featureFactor, _bounds, _dualSteps, _pulls, _w0, _b0, Multipliers }) t.Dispose();
    }
}
