using MLNet.FlatDebias.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Losses;

/// <summary>
/// Generalized cross-entropy (Zhang and Sabuncu, NeurIPS 2018): <c>L(p, y) = (1 - p_y^q) / q</c> with
/// <c>p = softmax(logits)</c>. It tends to cross-entropy as <c>q -> 0</c> and equals the mean absolute error
/// <c>1 - p_y</c> at <c>q = 1</c>. LfF and PGD train their intentionally biased model with it.
/// </summary>
/// <remarks>
/// <para><b>Why it makes a biased model.</b> Its gradient with respect to the logits is <c>p_y^q (p - e_y)</c>:
/// cross-entropy's gradient <c>p - e_y</c> scaled by <c>p_y^q</c>. Rows the model already fits confidently
/// (large <c>p_y</c>) dominate the update and rows it gets wrong (small <c>p_y</c>) are down-weighted, so the model
/// leans further on whatever is easiest to fit, such as a spurious attribute: a strongly biased model.</para>
/// <para><b>Numerics.</b> <c>p_y^q</c> is computed as <c>exp(q log_softmax(logits)_y)</c>, and
/// <c>1 - p_y^q</c> as <c>-expm1(q log p_y)</c>, so that small <c>q</c> and confident rows lose no precision.</para>
/// </remarks>
public static class GeneralizedCrossEntropy
{
    /// <summary>The exponent both LfF (Nam et al. 2020) and PGD (Ahn et al. 2023) use.</summary>
    public const double DefaultQ = 0.7;

    /// <summary>Per-row loss <c>(1 - p_y^q) / q</c>, differentiable with respect to the logits.</summary>
    /// <param name="logits">Logits <c>[B, K]</c>, float32 or float64.</param>
    /// <param name="labels">Class indices <c>[B]</c>, int64, in <c>[0, K)</c>.</param>
    /// <param name="q">The exponent; default 0.7, valid range <c>(0, 1]</c>.</param>
    /// <returns>Losses <c>[B]</c> in the logits' dtype, each in <c>[0, 1/q)</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="q"/> is outside <c>(0, 1]</c> or NaN.</exception>
    /// <exception cref="ArgumentException">The logits are not <c>[B, K]</c>, or the labels are not int64 <c>[B]</c>.</exception>
    public static Tensor PerSample(Tensor logits, Tensor labels, double q = DefaultQ)
    {
        EnsureValidQ(q);
        ClassificationBatchGuard.EnsureLogitsMatchLabels(logits, labels);
        using var scope = NewDisposeScope();
        var logProbabilityOfLabel = nn.functional.log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
        using Scalar qScalar = q.ToScalar(); // held across the calls, not implicit (HeldScalars)
        return logProbabilityOfLabel.mul(qScalar).expm1().neg().div(qScalar).MoveToOuterDisposeScope();
    }

    /// <summary>Mean loss over the batch, weighted when <paramref name="weights"/> is given:
    /// <c>sum_i w_i L_i / sum_i w_i</c>, as the cross-entropy of the other objectives.</summary>
    /// <param name="logits">Logits <c>[B, K]</c>, float32 or float64.</param>
    /// <param name="labels">Class indices <c>[B]</c>, int64, in <c>[0, K)</c>.</param>
    /// <param name="q">The exponent; default 0.7, valid range <c>(0, 1]</c>.</param>
    /// <param name="weights">Non-negative row weights <c>[B]</c>, or null (default) for the plain mean.</param>
    /// <returns>A scalar in the logits' dtype.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="q"/> is outside <c>(0, 1]</c> or NaN.</exception>
    /// <exception cref="ArgumentException">The logits, labels or weights have mismatched shapes.</exception>
    public static Tensor Mean(Tensor logits, Tensor labels, double q = DefaultQ, Tensor? weights = null)
    {
        EnsureValidQ(q);
        ClassificationBatchGuard.EnsureLogitsMatchLabels(logits, labels);
        if (weights is not null) ClassificationBatchGuard.EnsureRowsMatch(logits, weights, 1, nameof(weights), "[B]");
        using var scope = NewDisposeScope();
        var perSample = PerSample(logits, labels, q);
        var mean = weights is null ? perSample.mean() : (perSample * weights).sum() / weights.sum().clamp_min(HeldScalars.Tiny);
        return mean.MoveToOuterDisposeScope();
    }

    private static void EnsureValidQ(double q)
    {
        if (!(q > 0 && q <= 1))
            throw new ArgumentOutOfRangeException(nameof(q), q, "q must be in (0, 1].");
    }
}
