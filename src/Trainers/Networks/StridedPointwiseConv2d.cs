using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// A 1x1 convolution with stride s computed as a subsample <c>x[:, :, ::s, ::s]</c> followed by a
/// stride-1 1x1 convolution. The result and gradients equal those of <c>Conv2d(k=1, stride=s)</c>.
/// </summary>
/// <remarks>
/// oneDNN raises SIGFPE (the process dies) in the backward pass of a stride-2 1x1 convolution with 512 or
/// more input channels on machines that report no CPU cache sizes: ResNet-50's downsample paths. This
/// module avoids that kernel at full speed. Its only parameter is named <c>weight</c>, shape
/// <c>[out, in, 1, 1]</c>, so torchvision's <c>downsample.0.weight</c> loads into it by name.
/// </remarks>
public sealed class StridedPointwiseConv2d : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // PyTorch's parameter name, so state dictionaries load by name.
    private readonly TorchSharp.Modules.Parameter weight;
#pragma warning restore IDE1006

    /// <summary>Creates the layer with Kaiming-normal (fan-out, ReLU) weights, as torchvision initialises convolutions.</summary>
    /// <param name="inputChannels">Input channels (at least 1).</param>
    /// <param name="outputChannels">Output channels (at least 1).</param>
    /// <param name="stride">Spatial stride (at least 1).</param>
    public StridedPointwiseConv2d(long inputChannels, long outputChannels, long stride) : base(nameof(StridedPointwiseConv2d))
    {
        if (stride < 1) throw new ArgumentOutOfRangeException(nameof(stride), stride, "Stride must be at least 1.");
        Stride = stride;
        weight = new TorchSharp.Modules.Parameter(empty(outputChannels, inputChannels, 1, 1));
        nn.init.kaiming_normal_(weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
        RegisterComponents();
    }

    /// <summary>The convolution weight <c>[out, in, 1, 1]</c>.</summary>
    public TorchSharp.Modules.Parameter Weight => weight;

    /// <summary>Spatial stride.</summary>
    public long Stride { get; }

    /// <summary>Subsamples the input by <see cref="Stride"/>.</summary>
    /// <param name="input">A batch <c>[N, C, H, W]</c>.</param>
    /// <returns><c>input[:, :, ::s, ::s]</c> (a view).</returns>
    public Tensor Subsample(Tensor input) => Stride == 1
        ? input
        : input[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(null, null, Stride), TensorIndex.Slice(null, null, Stride)];

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => ConvolutionBackendGuard.Convolve(Subsample(input), weight, null, [1, 1], [0, 0], [1, 1]);
}
