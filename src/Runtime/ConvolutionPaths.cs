using static TorchSharp.torch;

namespace MLNet.FlatDebias.Runtime;

/// <summary>The ways a 2-D convolution is computed (<see cref="ConvolutionPath"/>); zero padding, one group.</summary>
internal static class ConvolutionPaths
{
    /// <summary>The channel multiple of <see cref="ConvolutionPath.PaddedChannels"/>: oneDNN's AVX-512 kernels block channels by 16.</summary>
    public const long ChannelMultiple = 16;

    /// <summary>True when <paramref name="channels"/> is not a multiple of <see cref="ChannelMultiple"/>.</summary>
    public static bool PartialBlock(long channels) => channels % ChannelMultiple != 0;

    /// <summary>The paths that compute a convolution of these channel counts differently from each other, in the order the
    /// guard tries them: direct, padded (when a count is a partial block), unfolded.</summary>
    public static IEnumerable<ConvolutionPath> Candidates(long inputChannels, long outputChannels)
    {
        yield return ConvolutionPath.Direct;
        if (PartialBlock(inputChannels) || PartialBlock(outputChannels)) yield return ConvolutionPath.PaddedChannels;
        yield return ConvolutionPath.Unfolded;
    }

    /// <summary>Computes the convolution by <paramref name="path"/>.</summary>
    public static Tensor Compute(ConvolutionPath path, Tensor input, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation) => path switch
    {
        ConvolutionPath.PaddedChannels => Padded(input, weight, bias, stride, padding, dilation),
        ConvolutionPath.Unfolded => Unfolded(input, weight, bias, stride, padding, dilation),
        _ => nn.functional.conv2d(input, weight, bias, stride, padding, dilation, groups: 1),
    };

    private static Tensor Padded(Tensor input, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation)
    {
        using var scope = NewDisposeScope();
        long outputs = weight.shape[0];
        long extraInputs = Extra(weight.shape[1]), extraOutputs = Extra(outputs);
        if (extraInputs > 0)
        {
            input = cat([input, zeros([input.shape[0], extraInputs, input.shape[2], input.shape[3]], dtype: input.dtype, device: input.device)], 1);
            weight = cat([weight, zeros([outputs, extraInputs, weight.shape[2], weight.shape[3]], dtype: weight.dtype, device: weight.device)], 1);
        }
        if (extraOutputs > 0)
            weight = cat([weight, zeros([extraOutputs, weight.shape[1], weight.shape[2], weight.shape[3]], dtype: weight.dtype, device: weight.device)], 0);
        var output = nn.functional.conv2d(input, weight, null, stride, padding, dilation, groups: 1);
        if (extraOutputs > 0) output = output.narrow(1, 0, outputs);
        if (bias is not null) output = output + bias.reshape(1, outputs, 1, 1);
        return output.MoveToOuterDisposeScope();
    }

    private static Tensor Unfolded(Tensor input, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation)
    {
        using var scope = NewDisposeScope();
        long batch = input.shape[0], outputs = weight.shape[0];
        long height = (input.shape[2] + 2 * padding[0] - dilation[0] * (weight.shape[2] - 1) - 1) / stride[0] + 1;
        long width = (input.shape[3] + 2 * padding[1] - dilation[1] * (weight.shape[3] - 1) - 1) / stride[1] + 1;
        var patches = nn.functional.unfold(input, (weight.shape[2], weight.shape[3]), (dilation[0], dilation[1]), (padding[0], padding[1]), (stride[0], stride[1]));
        var output = weight.reshape(outputs, -1).matmul(patches).reshape(batch, outputs, height, width);
        if (bias is not null) output = output + bias.reshape(1, outputs, 1, 1);
        return output.MoveToOuterDisposeScope();
    }

    private static long Extra(long channels) => (channels + ChannelMultiple - 1) / ChannelMultiple * ChannelMultiple - channels;
}
