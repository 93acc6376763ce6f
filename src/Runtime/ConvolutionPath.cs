namespace MLNet.FlatDebias.Runtime;

/// <summary>How a convolution is computed (<see cref="TorchRuntime.ConvolutionGuard"/>). All three compute the same
/// function with the same parameters and gradients; the guard takes the first, in this order, that the backend gets
/// right for the shape.</summary>
public enum ConvolutionPath
{
    /// <summary>One call to the backend's convolution, as TorchSharp's <c>Conv2d</c> makes it.</summary>
    Direct,

    /// <summary>Input and output channels padded with zeros to multiples of 16 (the extra output channels dropped from
    /// the result): the same convolution kernels with whole blocks of 16 channels, which libtorch 2.10's oneDNN gets right
    /// on AVX-512 CPUs where it gets partial blocks wrong.</summary>
    PaddedChannels,

    /// <summary>No convolution kernel: the input unfolded into patches (<c>unfold</c>) and multiplied by the weight matrix.
    /// Slower and larger in memory; the last resort.</summary>
    Unfolded,
}
