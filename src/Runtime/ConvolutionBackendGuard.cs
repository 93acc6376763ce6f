using System.Collections.Concurrent;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// Decides, per convolution shape, how the library's convolutions are computed, so that no result the backend got wrong
/// is used (<see cref="TorchRuntime.ConvolutionGuard"/>).
/// </summary>
/// <remarks>
/// Every shape is checked the first time it is met, by <see cref="ConvolutionPaths.Candidates"/> in order (direct,
/// padded channels, unfolded); the first path that passes is kept for the shape, and a shape no path computes right
/// throws. Two probes of known defects (libtorch 2.10's oneDNN, with its AVX-512 and its AVX2 kernels alike: the input
/// gradient with 4 output channels, the output with 20 input channels) tell whether the backend is a defective one; they
/// decide only about networks of the user's own (<see cref="RequireGuarded"/>) and fill the report. Decisions and checks are kept for
/// <see cref="Report"/>.
/// </remarks>
internal sealed class ConvolutionBackendGuard
{
    /// <summary>The environment variable that sets the mode before the first use: <c>auto</c> (default) or <c>off</c>.</summary>
    internal const string EnvironmentVariable = "MLNET_FLATDEBIAS_CONVOLUTION_GUARD";

    /// <summary>The probe for the input-gradient defect: 4 output channels, a partial block of both oneDNN's AVX-512 kernels
    /// (16 channels) and its AVX2 kernels (8); wrong every time at one thread where the defect exists.</summary>
    internal static readonly ConvolutionShape InputGradientProbe = new(4, 4, (3, 3), (1, 1), (1, 1), (1, 1), (14, 14), 2, InputGradient: true);

    /// <summary>The probe for the output defect: 20 input channels (a partial block at both widths).</summary>
    internal static readonly ConvolutionShape ForwardProbe = new(20, 32, (3, 3), (1, 1), (1, 1), (1, 1), (8, 8), 2, InputGradient: false);

    [ThreadStatic]
    private static int secondOrderDepth;

    private readonly IConvolutionBackendCheck checker;
    private readonly Func<string?> readEnvironment;
    private readonly object gate = new();
    private readonly ConcurrentDictionary<ConvolutionShape, ConvolutionPath> paths = new();
    private readonly Dictionary<ConvolutionShape, string> failures = [];
    private readonly List<ConvolutionCheck> checks = [];
    private readonly List<ConvolutionCheck> probes = [];
    private bool? defective;
    private ConvolutionGuardMode? mode;

    internal ConvolutionBackendGuard(IConvolutionBackendCheck checker, Func<string?>? readEnvironment = null)
    {
        this.checker = checker;
        this.readEnvironment = readEnvironment ?? (() => Environment.GetEnvironmentVariable(EnvironmentVariable));
    }

    /// <summary>The guard the library's convolutions use.</summary>
    internal static ConvolutionBackendGuard Process { get; } = new(new Float64ConvolutionCheck());

    /// <summary>The mode: set in code, or read from <see cref="EnvironmentVariable"/> at first use.</summary>
    /// <exception cref="InvalidOperationException">The environment variable holds something other than <c>auto</c> or <c>off</c>.</exception>
    public ConvolutionGuardMode Mode
    {
        get => mode ??= Parse(readEnvironment());
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "Unknown convolution guard mode.");
            mode = value;
        }
    }

    /// <summary>Marks the convolutions run on this thread until disposal as differentiated twice (their gradients are
    /// penalised), so that their shapes are checked to second order; nothing when <paramref name="active"/> is false.</summary>
    internal static IDisposable? SecondOrder(bool active)
    {
        if (!active) return null;
        secondOrderDepth++;
        return new SecondOrderScope();
    }

    /// <summary>Computes a convolution of a library network by the path decided for its shape (directly off the CPU, for
    /// other types than float32, and with the guard off).</summary>
    internal static Tensor Convolve(Tensor input, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation)
    {
        if (input.dim() != 4 || input.device_type != TorchSharp.DeviceType.CPU || input.dtype != ScalarType.Float32 || Process.Mode == ConvolutionGuardMode.Off)
            return ConvolutionPaths.Compute(ConvolutionPath.Direct, input, weight, bias, stride, padding, dilation);
        bool gradients = is_grad_enabled();
        var shape = ConvolutionShape.Of(input.shape, weight.shape, stride, padding, dilation, gradients && input.requires_grad, gradients && secondOrderDepth > 0);
        return ConvolutionPaths.Compute(Process.PathFor(shape), input, weight, bias, stride, padding, dilation);
    }

    /// <summary>The path for <paramref name="shape"/>, checked the first time the shape is met.</summary>
    /// <exception cref="InvalidOperationException">No path computes this shape right on this machine.</exception>
    public ConvolutionPath PathFor(ConvolutionShape shape)
    {
        if (Mode == ConvolutionGuardMode.Off) return ConvolutionPath.Direct;
        if (paths.TryGetValue(shape, out var known)) return known;
        lock (gate)
        {
            if (paths.TryGetValue(shape, out known)) return known;
            if (failures.TryGetValue(shape, out var message)) throw new InvalidOperationException(message);
            var tried = new List<ConvolutionCheck>();
            foreach (var path in ConvolutionPaths.Candidates(shape.InputChannels, shape.OutputChannels))
            {
                var check = checker.Check(shape, path);
                checks.Add(check);
                tried.Add(check);
                if (!check.Passed) continue;
                paths[shape] = path;
                return path;
            }
            message = NoRightPath(shape, tried);
            failures[shape] = message;
            throw new InvalidOperationException(message);
        }
    }

    /// <summary>True when a probe finds one of the known defects (running the probes the first time).</summary>
    public bool DefectFound
    {
        get
        {
            lock (gate)
            {
                if (defective is bool known) return known;
                probes.Add(checker.Check(InputGradientProbe, ConvolutionPath.Direct));
                probes.Add(checker.Check(ForwardProbe, ConvolutionPath.Direct));
                defective = probes.Any(p => !p.Passed);
                return defective.Value;
            }
        }
    }

    /// <summary>
    /// Throws when <paramref name="network"/> has a TorchSharp <c>Conv2d</c> and the probes find the backend defective (a
    /// network of the user's own, given to an API that runs it); the library's own networks use
    /// <see cref="Trainers.Networks.GuardedConv2d"/> and pass.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="what">The API, for the message.</param>
    /// <exception cref="InvalidOperationException">Such a layer exists and a probe found a defect.</exception>
    public void RequireGuarded(nn.Module network, string what)
    {
        if (Mode == ConvolutionGuardMode.Off) return;
        foreach (var (name, module) in network.named_modules())
        {
            if (module is not Conv2d conv || conv.weight.dtype != ScalarType.Float32 || conv.weight.device_type != TorchSharp.DeviceType.CPU || !DefectFound)
                continue;
            throw new InvalidOperationException(
                FormattableString.Invariant($"{what}: layer '{name}' is a TorchSharp Conv2d ({conv.in_channels} to {conv.out_channels} channels), and on this CPU ") +
                $"({CpuDescription.Current}) libtorch's oneDNN computes some convolutions wrong ({string.Join("; ", probes.Where(p => !p.Passed).Select(p => p.Shape + ": " + p.Failures))}). " +
                "Build the layer as MLNet.FlatDebias.Trainers.Networks.GuardedConv2d (same parameters and state-dictionary names; it is computed by a " +
                "path checked on this machine). Capping oneDNN (DNNL_MAX_CPU_ISA=AVX2) is no cure: its AVX2 kernels have the same defects for channel counts that are not a multiple of 8.");
        }
    }

    /// <summary>What has been decided so far.</summary>
    public ConvolutionGuardReport Report()
    {
        lock (gate)
        {
            ConvolutionGuardMode current;
            try { current = Mode; }
            catch (InvalidOperationException) { current = ConvolutionGuardMode.Auto; }
            return new ConvolutionGuardReport(current, CpuDescription.Current, [.. probes], [.. checks], new Dictionary<ConvolutionShape, ConvolutionPath>(paths));
        }
    }

    private static string NoRightPath(ConvolutionShape shape, List<ConvolutionCheck> tried)
        => $"The convolution backend computes wrong results on this CPU ({CpuDescription.Current}) for the convolution {shape}: " +
           string.Join("; ", tried.Select(c => $"the {c.Path} path is wrong ({c.Failures})")) +
           FormattableString.Invariant($" (normwise relative error against float64, tolerance {Float64ConvolutionCheck.Tolerance:G3}). ") +
           "The library stops rather than use wrong results. Another oneDNN instruction-set level (DNNL_MAX_CPU_ISA in the environment " +
           $"that starts the process) runs other kernels; TorchRuntime.ConvolutionGuard = Off (or {EnvironmentVariable}=off) goes on with these results anyway.";

    private static ConvolutionGuardMode Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => ConvolutionGuardMode.Auto,
        "off" => ConvolutionGuardMode.Off,
        _ => throw new InvalidOperationException(
            $"The environment variable {EnvironmentVariable} is '{value}'; expected 'auto' (the default: check the convolution backend) or 'off'."),
    };

    private sealed class SecondOrderScope : IDisposable
    {
        private bool disposed;

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            secondOrderDepth--;
        }
    }
}
