using MLNet.FlatDebias.Common;
using System.Diagnostics;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Runtime;

/// <summary>Computes a convolution by a path (the signature of <see cref="ConvolutionPaths.Compute"/>).</summary>
internal delegate Tensor ConvolutionCompute(ConvolutionPath path, Tensor input, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation);

/// <summary>Checks one convolution shape and path (<see cref="ConvolutionCheck"/>); the guard's decisions are tested
/// with a fake of this.</summary>
internal interface IConvolutionBackendCheck
{
    /// <summary>Runs the check.</summary>
    ConvolutionCheck Check(ConvolutionShape shape, ConvolutionPath path);
}

/// <summary>
/// The real check: random input, weight and output gradient (from a generator of its own, so the global generator that
/// initialises weights and draws samples is untouched); the convolution's output, weight gradient, input gradient where
/// the shape takes it, and second-order gradients where it takes them, in float32 by the path under test, at one thread
/// and at the process's thread count, against the same convolution in float64 (libtorch's own convolution: oneDNN has
/// no float64 kernels).
/// </summary>
internal sealed class Float64ConvolutionCheck : IConvolutionBackendCheck
{
    private readonly ConvolutionCompute compute;

    /// <summary>The check of the real paths.</summary>
    public Float64ConvolutionCheck() : this(ConvolutionPaths.Compute)
    {
    }

    /// <summary>A check of other computations for the paths (the tests give a deliberately wrong one, to see the check
    /// and the guard's decisions work on a CPU whose backend is right). The float64 reference is always the direct path.</summary>
    internal Float64ConvolutionCheck(ConvolutionCompute compute) => this.compute = compute;

    /// <summary>
    /// Normwise relative error that passes: float32 convolutions here agree with float64 to 1e-7..3e-6 (3x3 to 7x7
    /// kernels, 1 to 2048 channels, second-order gradients included), while the defects this guards against give errors
    /// of 0.07 to 1 or NaN. 1e-3 is far above rounding, so another CPU's summation order cannot fail it, and far below any
    /// wrong kernel.
    /// </summary>
    public const double Tolerance = 1e-3;

    private const ulong Seed = 0x5EED_C0DE;

    public ConvolutionCheck Check(ConvolutionShape shape, ConvolutionPath path)
    {
        var clock = Stopwatch.StartNew();
        int current = get_num_threads();
        int[] threads = current == 1 ? [1] : [1, current];
        var convolution = new Convolution(shape);
        var output = shape.Output;

        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        using var generator = new Generator(Seed);
        var x = randn([shape.Batch, shape.InputChannels, shape.Input.Height, shape.Input.Width], generator: generator);
        double fanIn = shape.InputChannels * shape.Kernel.Height * shape.Kernel.Width;
        var w = randn([shape.OutputChannels, shape.InputChannels, shape.Kernel.Height, shape.Kernel.Width], generator: generator) / Math.Sqrt(fanIn);
        var g = randn([shape.Batch, shape.OutputChannels, output.Height, output.Width], generator: generator);
        var reference = convolution.Run(ConvolutionPaths.Compute, ConvolutionPath.Direct, x.to(ScalarType.Float64), w.to(ScalarType.Float64), g.to(ScalarType.Float64));

        // Output, input gradient, weight gradient, then second order (the worst of its terms).
        var errors = new double[4];
        try
        {
            foreach (int count in threads)
            {
                set_num_threads(count);
                var result = convolution.Run(compute, path, x, w, g);
                for (int i = 0; i < result.Length; i++)
                    if (result[i] is { } value) errors[Math.Min(i, 3)] = Math.Max(errors[Math.Min(i, 3)], Error(value, reference[i]!));
            }
        }
        finally
        {
            set_num_threads(current);
        }
        return new ConvolutionCheck(shape, path, errors[0], shape.InputGradient ? errors[1] : null, errors[2], shape.SecondOrder ? errors[3] : null,
            threads, Tolerance, clock.Elapsed.TotalSeconds);
    }

    /// <summary><c>max |a - b| / max |b|</c>, NaN when <paramref name="actual"/> has a NaN.</summary>
    internal static double Error(Tensor actual, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var difference = (actual.to(ScalarType.Float64) - reference).abs();
        if (difference.isnan().any().item<bool>()) return double.NaN;
        double scale = reference.abs().max().item<double>();
        return difference.max().item<double>() / Math.Max(scale, double.Epsilon);
    }

    /// <summary>One shape's computation: output, input gradient, weight gradient, then the second-order gradients (of the
    /// summed squares of the first-order ones, with respect to the input, the weight and the output gradient: every term
    /// of a convolution's double backward); each null where the shape does not take it.</summary>
    private sealed class Convolution(ConvolutionShape shape)
    {
        private readonly long[] stride = [shape.Stride.Height, shape.Stride.Width];
        private readonly long[] padding = [shape.Padding.Height, shape.Padding.Width];
        private readonly long[] dilation = [shape.Dilation.Height, shape.Dilation.Width];

        public Tensor?[] Run(ConvolutionCompute compute, ConvolutionPath path, Tensor x, Tensor w, Tensor g)
        {
            var input = x.detach().requires_grad_(shape.InputGradient);
            var weight = w.detach().requires_grad_(true);
            var outputGradient = g.detach().requires_grad_(shape.SecondOrder);
            var output = compute(path, input, weight, null, stride, padding, dilation);
            Tensor[] wrt = shape.InputGradient ? [input, weight] : [weight];
            var first = autograd.grad([output], wrt, [outputGradient], retain_graph: shape.SecondOrder, create_graph: shape.SecondOrder);
            var result = new List<Tensor?> { output.detach(), shape.InputGradient ? first[0].detach() : null, first[^1].detach() };
            if (shape.SecondOrder)
            {
                var penalty = first.Select(t => t.pow(HeldScalars.Two).sum()).Aggregate((a, b) => a + b);
                // Without an input gradient the penalty does not depend on the weight (a convolution is linear in it): only the
                // output gradient's term exists, and asking for an unused one would leave an empty tensor behind.
                Tensor[] all = shape.InputGradient ? [input, weight, outputGradient] : [outputGradient];
                result.AddRange(autograd.grad([penalty], all));
            }
            return [.. result];
        }
    }
}
