using TorchSharp;
using MLNet.FlatDebias.Common;
using TorchSharp.Modules;
using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// Per-sample squared norms of a layer's parameter gradients from the layer input <c>a</c> and the gradient
/// <c>g</c> with respect to its output (the "ghost norm"). All results are <c>[N]</c> and differentiable in
/// <c>a</c> and <c>g</c>.
/// </summary>
internal static class LayerGradientNorms
{
    /// <summary>True when the Gram form <c>T^2 (C_out + D)</c> costs less than the direct form <c>T C_out D</c>.</summary>
    public static bool PreferGram(long outputChannels, long patchSize, long positions)
        => positions * positions * (outputChannels + patchSize) < outputChannels * positions * patchSize;

    /// <summary>Dispatches on the layer type; returns null when the layer cannot be handled in closed form.</summary>
    public static Tensor? ForLayer(nn.Module module, Tensor input, Tensor outputGradient)
    {
        switch (module)
        {
            case Linear linear:
                return Linear(input, outputGradient, linear.weight!.requires_grad, linear.bias is { requires_grad: true });
            case StridedPointwiseConv2d pointwise:
            {
                var sub = pointwise.Subsample(input);
                var unfolded = sub.reshape(sub.shape[0], sub.shape[1], -1);
                return Convolution(unfolded, outputGradient, pointwise.Weight.requires_grad, hasBias: false);
            }
            case Convolution conv when conv is GuardedConv2d or Conv2d:
            {
                var padding = conv.padding ?? [0, 0];
                var unfolded = nn.functional.unfold(input, (conv.kernel_size[0], conv.kernel_size[1]),
                    (conv.dilation[0], conv.dilation[1]), (padding[0], padding[1]), (conv.stride[0], conv.stride[1]));
                return Convolution(unfolded, outputGradient, conv.weight!.requires_grad, conv.bias is { requires_grad: true });
            }
            case BatchNorm bn when !bn.training && bn.track_running_stats && bn.running_mean is not null && bn.running_var is not null:
                return BatchNormEval(input, outputGradient, bn.running_mean, bn.running_var, bn.eps,
                    bn.weight is { requires_grad: true }, bn.bias is { requires_grad: true });
            default:
                return null;
        }
    }

    /// <summary>Linear layer: <c>||g_i a_i^T||^2 = ||a_i||^2 ||g_i||^2</c> for 2-D inputs; bias <c>||g_i||^2</c>.
    /// Inputs with extra dimensions (<c>[N, T, D]</c>) use the direct form.</summary>
    public static Tensor Linear(Tensor a, Tensor g, bool hasWeight, bool hasBias)
    {
        if (a.dim() == 2)
        {
            var g2 = g.pow(HeldScalars.Two).sum(1);
            var result = hasWeight ? a.pow(HeldScalars.Two).sum(1) * g2 : zeros_like(g2);
            return hasBias ? result.add(g2, HeldScalars.One) : result;
        }
        var a3 = a.reshape(a.shape[0], -1, a.shape[^1]);
        var g3 = g.reshape(g.shape[0], -1, g.shape[^1]);
        var total = zeros(a.shape[0], dtype: a.dtype, device: a.device);
        if (hasWeight) total = total.add(bmm(g3.transpose(1, 2), a3).pow(HeldScalars.Two).sum([1, 2]), HeldScalars.One);
        if (hasBias) total = total.add(g3.sum(1).pow(HeldScalars.Two).sum(1), HeldScalars.One);
        return total;
    }

    /// <summary>Convolution with unfolded input <c>U [N, D, T]</c> and output gradient <c>g [N, C_out, T]</c>:
    /// <c>||g_i U_i^T||_F^2</c>, directly (cost <c>T C_out D</c>) or as <c>sum((g_i^T g_i) * (U_i^T U_i))</c>
    /// (cost <c>T^2 (C_out + D)</c>), whichever is cheaper unless <paramref name="gram"/> forces one.</summary>
    public static Tensor Convolution(Tensor unfolded, Tensor outputGradient, bool hasWeight, bool hasBias, bool? gram = null)
    {
        var g = outputGradient.reshape(outputGradient.shape[0], outputGradient.shape[1], -1);
        long positions = g.shape[2];
        var total = zeros(g.shape[0], dtype: g.dtype, device: g.device);
        if (hasWeight)
        {
            if (unfolded.shape[2] != positions)
                throw new InvalidOperationException($"Unfolded input has {unfolded.shape[2]} positions, output gradient {positions}.");
            total = (gram ?? PreferGram(g.shape[1], unfolded.shape[1], positions))
                ? total.add((bmm(g.transpose(1, 2), g) * bmm(unfolded.transpose(1, 2), unfolded)).sum([1, 2]), HeldScalars.One)
                : total.add(bmm(g, unfolded.transpose(1, 2)).pow(HeldScalars.Two).sum([1, 2]), HeldScalars.One);
        }
        if (hasBias) total = total.add(g.sum(2).pow(HeldScalars.Two).sum(1), HeldScalars.One);
        return total;
    }

    /// <summary>Batch norm with running statistics: <c>d/d gamma_c = sum_t g_ct xhat_ct</c>, <c>d/d beta_c = sum_t g_ct</c>.</summary>
    public static Tensor BatchNormEval(Tensor a, Tensor g, Tensor runningMean, Tensor runningVar, double eps, bool hasWeight, bool hasBias)
    {
        var shape = new long[a.dim()];
        Array.Fill(shape, 1L);
        shape[1] = -1;
        var g3 = g.reshape(g.shape[0], g.shape[1], -1);
        var total = zeros(g.shape[0], dtype: g.dtype, device: g.device);
        if (hasWeight)
        {
            using Scalar epsScalar = eps.ToScalar();
            var normalised = (a - runningMean.reshape(shape)) / runningVar.reshape(shape).add(epsScalar, HeldScalars.One).sqrt();
            total = total.add((g3 * normalised.reshape(g3.shape)).sum(2).pow(HeldScalars.Two).sum(1), HeldScalars.One);
        }
        if (hasBias) total = total.add(g3.sum(2).pow(HeldScalars.Two).sum(1), HeldScalars.One);
        return total;
    }
}
