using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// A 2-D convolution with TorchSharp's <c>Conv2d</c> parameters, initialisation, state-dictionary names
/// (<c>weight</c>, <c>bias</c>) and result, computed by a path the convolution guard has checked on this machine
/// (<see cref="TorchRuntime.ConvolutionGuard"/>). Every convolution of the library's networks is one.
/// </summary>
/// <remarks>
/// Where the backend is right, and where the guard is off, it makes exactly <c>Conv2d</c>'s call. Zero padding and one
/// group only, the layouts the networks use.
/// </remarks>
public sealed class GuardedConv2d : Convolution
{
    /// <summary>Creates the layer, initialised as TorchSharp's <c>nn.Conv2d</c> with the same arguments (the same draws
    /// from the global generator, so a seeded network gets the same weights).</summary>
    /// <param name="inputChannels">Input channels (at least 1).</param>
    /// <param name="outputChannels">Output channels (at least 1).</param>
    /// <param name="kernelSize">Square kernel size (at least 1).</param>
    /// <param name="stride">Stride (default 1, at least 1).</param>
    /// <param name="padding">Zero padding on every side (default 0, at least 0).</param>
    /// <param name="dilation">Dilation (default 1, at least 1).</param>
    /// <param name="bias">Whether the layer has a bias (default true).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of its range.</exception>
    public GuardedConv2d(long inputChannels, long outputChannels, long kernelSize, long stride = 1, long padding = 0, long dilation = 1, bool bias = true)
        : base(nameof(GuardedConv2d), Positive(inputChannels, nameof(inputChannels)), Positive(outputChannels, nameof(outputChannels)),
            [Positive(kernelSize, nameof(kernelSize)), kernelSize], [Positive(stride, nameof(stride)), stride],
            [padding >= 0 ? padding : throw new ArgumentOutOfRangeException(nameof(padding), padding, "Padding must be at least 0."), padding],
            null, [Positive(dilation, nameof(dilation)), dilation], false, [0, 0], 1, bias, PaddingModes.Zeros)
    {
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        if (!ValidateShape(input, 2))
            throw new ArgumentException($"Expected a 3-D (unbatched) or 4-D (batched) input with {in_channels} channels; got shape [{string.Join(", ", input.shape)}].", nameof(input));
        return ConvolutionBackendGuard.Convolve(input, weight, bias, stride, padding!, dilation);
    }

    private static long Positive(long value, string name)
        => value >= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least 1.");
}
