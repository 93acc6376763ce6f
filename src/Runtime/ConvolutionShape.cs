using System.Globalization;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// One 2-D convolution call as the backend sees it: channels, kernel, stride, padding, dilation, the input's height and
/// width, the batch, and which gradients are taken. The convolution guard checks and decides per shape
/// (<see cref="TorchRuntime.ConvolutionGuard"/>).
/// </summary>
/// <param name="InputChannels">Input channels.</param>
/// <param name="OutputChannels">Output channels (filters).</param>
/// <param name="Kernel">Kernel height and width.</param>
/// <param name="Stride">Stride along height and width.</param>
/// <param name="Padding">Zero padding along height and width.</param>
/// <param name="Dilation">Dilation along height and width.</param>
/// <param name="Input">The input's height and width.</param>
/// <param name="Batch">Rows, up to <see cref="CheckedBatch"/>: oneDNN chooses kernels and splits work by the batch too, and
/// takes none for single rows. <paramref name="SecondOrder"/> shapes keep the batch size whatever it is: libtorch computes
/// a second-order convolution gradient with the batch as a channel count.</param>
/// <param name="InputGradient">Whether the gradient with respect to the input is taken (training a layer that is not the
/// first); the output and the weight gradient are always checked.</param>
/// <param name="SecondOrder">Whether the gradients are differentiated again (the paper's trace penalty through the
/// whole network).</param>
public readonly record struct ConvolutionShape(
    long InputChannels,
    long OutputChannels,
    (long Height, long Width) Kernel,
    (long Height, long Width) Stride,
    (long Height, long Width) Padding,
    (long Height, long Width) Dilation,
    (long Height, long Width) Input,
    long Batch,
    bool InputGradient,
    bool SecondOrder = false)
{
    /// <summary>The largest batch a first-order shape keeps (larger batches are checked at this size).</summary>
    public const long CheckedBatch = 16;

    /// <summary>The shape of a call with an input of <paramref name="inputShape"/> <c>[N, C, H, W]</c> and a weight of
    /// <paramref name="weightShape"/> <c>[out, in, kh, kw]</c>.</summary>
    internal static ConvolutionShape Of(long[] inputShape, long[] weightShape, long[] stride, long[] padding, long[] dilation, bool inputGradient,
        bool secondOrder = false)
        => new(inputShape[1], weightShape[0], (weightShape[2], weightShape[3]), Pair(stride), Pair(padding), Pair(dilation),
            (inputShape[2], inputShape[3]), secondOrder ? inputShape[0] : Math.Min(inputShape[0], CheckedBatch), inputGradient, secondOrder);

    /// <summary>The output's height and width.</summary>
    public (long Height, long Width) Output => (
        (Input.Height + 2 * Padding.Height - Dilation.Height * (Kernel.Height - 1) - 1) / Stride.Height + 1,
        (Input.Width + 2 * Padding.Width - Dilation.Width * (Kernel.Width - 1) - 1) / Stride.Width + 1);

    /// <summary>For example <c>4-&gt;8 channels, 3x3 kernel, stride 1, padding 1, input 14x14, batch 16+, with input gradient</c>.</summary>
    public override string ToString()
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"{InputChannels}->{OutputChannels} channels, {Kernel.Height}x{Kernel.Width} kernel, stride {Two(Stride)}, padding {Two(Padding)}");
        if (Dilation != (1, 1)) text += ", dilation " + Two(Dilation);
        return text + string.Create(CultureInfo.InvariantCulture, $", input {Input.Height}x{Input.Width}, batch {Batch}{(Batch == CheckedBatch && !SecondOrder ? "+" : "")}, {(InputGradient ? "with" : "no")} input gradient{(SecondOrder ? ", second order" : "")}");
    }

    private static (long, long) Pair(long[] values) => values.Length == 1 ? (values[0], values[0]) : (values[0], values[1]);

    private static string Two((long A, long B) pair)
        => pair.A == pair.B ? pair.A.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{pair.A}x{pair.B}");
}
