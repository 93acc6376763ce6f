using TorchSharp;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Losses;
using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// Per-row norm of the cross-entropy gradient with respect to the last layer's weights, the score PGD (Ahn et al.,
/// ICLR 2023) resamples by. For row <c>i</c> with head input <c>h_i</c> and <c>p_i = softmax(z_i)</c> the gradient
/// with respect to the head weight <c>W</c> is <c>(p_i - e_{y_i}) h_i^T</c>, so its entrywise r-norm factorises:
/// <c>||p_i - e_{y_i}||_r ||h_i||_r</c>, with <c>||v||_r = (sum_j |v_j|^r)^(1/r)</c>. With the bias (gradient
/// <c>p_i - e_{y_i}</c>) it is <c>||p_i - e_{y_i}||_r (||h_i||_r^r + 1)^(1/r)</c>.
/// </summary>
/// <remarks>
/// <para><b>The exponent.</b> <c>r = 2</c> (default) is the Frobenius norm; PGD's released code uses
/// <c>r = 0.7</c>. For <c>r &lt; 1</c> the entrywise r-"norm" is a quasi-norm (no triangle inequality), which is
/// all a score needs.</para>
/// <para><b>Values only.</b> The results carry no graph: they are scores for sampling, not terms of a loss.</para>
/// </remarks>
public static class LastLayerGradientNorm
{
    /// <summary>Per-row norms for a batch, with the network run under <c>no_grad</c> in whatever mode the caller
    /// left it. PGD scores with its biased model in evaluation mode (<c>network.eval()</c>); in training mode batch
    /// norm would use batch statistics, making each row's score depend on the rest of the batch, and would update
    /// its running statistics.</summary>
    /// <param name="network">The network; its training mode is neither changed nor restored.</param>
    /// <param name="inputs">A batch <c>[B, C, H, W]</c> in the network's dtype and device.</param>
    /// <param name="labels">Class indices <c>[B]</c>, int64.</param>
    /// <param name="r">Entrywise norm exponent; default 2, valid range: finite and &gt; 0.</param>
    /// <param name="includeBias">True to include the head bias's gradient; default false (weight only).</param>
    /// <returns>Norms <c>[B]</c> in the network's dtype (float32 for the library's networks).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="r"/> is not finite or not &gt; 0.</exception>
    /// <exception cref="ArgumentException">The labels do not match the batch.</exception>
    /// <exception cref="InvalidOperationException">The network has a TorchSharp <c>Conv2d</c> and this CPU's convolution backend
    /// has known defects (see <see cref="TorchRuntime.ConvolutionGuard"/>).</exception>
    public static Tensor Compute(ClassifierNetwork network, Tensor inputs, Tensor labels, double r = 2, bool includeBias = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(inputs);
        EnsureValidR(r);
        ConvolutionBackendGuard.Process.RequireGuarded(network, "LastLayerGradientNorm.Compute");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var features = network.Features(inputs);
        var logits = network.Head.call(features);
        return FromFeatures(features, logits, labels, r, includeBias).MoveToOuterDisposeScope();
    }

    /// <summary>Per-row norms from head inputs and logits the caller already computed (both detached here).</summary>
    /// <param name="features">Head inputs <c>h</c>, <c>[B, D]</c>.</param>
    /// <param name="logits">Logits <c>z = W h + b</c>, <c>[B, K]</c>.</param>
    /// <param name="labels">Class indices <c>[B]</c>, int64.</param>
    /// <param name="r">Entrywise norm exponent; default 2, valid range: finite and &gt; 0.</param>
    /// <param name="includeBias">True to include the head bias's gradient; default false (weight only).</param>
    /// <returns>Norms <c>[B]</c> in the logits' dtype, without a graph.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="r"/> is not finite or not &gt; 0.</exception>
    /// <exception cref="ArgumentException">Features, logits and labels have mismatched shapes.</exception>
    public static Tensor FromFeatures(Tensor features, Tensor logits, Tensor labels, double r = 2, bool includeBias = false)
    {
        EnsureValidR(r);
        ClassificationBatchGuard.EnsureLogitsMatchLabels(logits, labels);
        ClassificationBatchGuard.EnsureRowsMatch(logits, features, 2, nameof(features), "[B, D]");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var probabilities = nn.functional.softmax(logits.detach(), 1);
        var logitGradient = probabilities - nn.functional.one_hot(labels, logits.shape[1]).to_type(probabilities.dtype);
        var headInput = features.detach().to_type(probabilities.dtype);
        // The bias is a weight on a constant input 1: (||h||_r^r + 1)^(1/r) is the r-norm of [h, 1].
        if (includeBias) headInput = cat([headInput, ones(headInput.shape[0], 1, dtype: headInput.dtype, device: headInput.device)], 1);
        return (EntrywiseNorm(logitGradient, r) * EntrywiseNorm(headInput, r)).MoveToOuterDisposeScope();
    }

    /// <summary><c>(sum_j |v_j|^r)^(1/r)</c> per row, scaled by the row's largest entry so that no power overflows.</summary>
    private static Tensor EntrywiseNorm(Tensor rows, double r)
    {
        var magnitudes = rows.abs();
        var largest = magnitudes.amax([1], keepdim: true);
        var scaled = magnitudes / where(largest.gt(HeldScalars.Zero), largest, ones_like(largest));   // an all-zero row stays 0
        using Scalar exponent = r.ToScalar(), inverse = (1 / r).ToScalar(); // held across the calls (HeldScalars)
        return scaled.pow(exponent).sum(1).pow(inverse) * largest.squeeze(1);
    }

    private static void EnsureValidR(double r)
    {
        if (!(r > 0 && double.IsFinite(r)))
            throw new ArgumentOutOfRangeException(nameof(r), r, "r must be finite and > 0.");
    }
}
