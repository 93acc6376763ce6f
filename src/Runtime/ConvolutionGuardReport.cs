using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// What the convolution guard has found and decided in this process (<see cref="TorchRuntime.ConvolutionGuardReport"/>):
/// the probe for the known defect, every shape checked and the path each trains with.
/// </summary>
public sealed class ConvolutionGuardReport
{
    internal ConvolutionGuardReport(ConvolutionGuardMode mode, string cpu, IReadOnlyList<ConvolutionCheck> probes, IReadOnlyList<ConvolutionCheck> checks,
        IReadOnlyDictionary<ConvolutionShape, ConvolutionPath> paths)
    {
        Mode = mode;
        Cpu = cpu;
        Probes = probes;
        Checks = checks;
        Paths = paths;
    }

    /// <summary>The mode in force.</summary>
    public ConvolutionGuardMode Mode { get; }

    /// <summary>The processor: model name and vector extensions.</summary>
    public string Cpu { get; }

    /// <summary>The probes for the known defects of libtorch 2.10's oneDNN at full AVX-512 (a 3x3 convolution's input gradient
    /// with 8 output channels; its output with 24 input channels), empty until a network of the user's own was given to an
    /// API that checks it, or <see cref="TorchRuntime.ConvolutionBackendDefective"/> was read.</summary>
    public IReadOnlyList<ConvolutionCheck> Probes { get; }

    /// <summary>True when a probe found its defect, false when they did not, null before they ran.</summary>
    public bool? DefectFound => Probes.Count == 0 ? null : Probes.Any(p => !p.Passed);

    /// <summary>Every shape check, in the order run (a shape whose direct path failed has two).</summary>
    public IReadOnlyList<ConvolutionCheck> Checks { get; }

    /// <summary>The path each checked shape is computed by.</summary>
    public IReadOnlyDictionary<ConvolutionShape, ConvolutionPath> Paths { get; }

    /// <summary>Seconds spent in the probe and the checks.</summary>
    public double Seconds => Probes.Sum(p => p.Seconds) + Checks.Sum(c => c.Seconds);

    /// <summary>A few lines: mode, CPU, the probes' verdict, how many shapes take each path, and every failed check.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"Convolution guard: {Mode}; CPU {Cpu}; oneDNN cap {TorchRuntime.OneDnnInstructionSetValue ?? "none"}; ");
        text.Append(DefectFound switch
        {
            null => "known defects not probed",
            true => "the backend has the known defects (" + string.Join("; ", Probes.Where(p => !p.Passed).Select(p => p.Shape + ": " + p.Failures)) + ")",
            false => "the backend passed the probes of the known defects",
        });
        text.Append(CultureInfo.InvariantCulture, $". Shapes checked: {Paths.Count} (");
        text.Append(string.Join(", ", Enum.GetValues<ConvolutionPath>().Select(p => (Path: p, Count: Paths.Values.Count(v => v == p))).Where(c => c.Count > 0)
            .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Count} {c.Path}"))));
        text.Append(CultureInfo.InvariantCulture, $"), {Seconds:F2} s.");
        foreach (var failed in Checks.Where(c => !c.Passed)) text.AppendLine().Append("  failed: ").Append(failed);
        return text.ToString();
    }
}
