using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// Forwards an instruction-set cap for libtorch's oneDNN (<c>DNNL_MAX_CPU_ISA</c> or <c>ONEDNN_MAX_CPU_ISA</c>) that the
/// application set through .NET to the native environment, where oneDNN reads it at its first primitive.
/// </summary>
/// <remarks>
/// On Linux and macOS <see cref="Environment.SetEnvironmentVariable(string, string)"/> changes only .NET's copy of the
/// environment; without this, <c>Environment.SetEnvironmentVariable("DNNL_MAX_CPU_ISA", "AVX2")</c> at the top of
/// <c>Main</c> would silently do nothing. The library sets no cap of its own: the convolution guard
/// (<see cref="ConvolutionBackendGuard"/>) checks each convolution shape and computes around wrong kernels, so that the
/// full instruction set keeps its speed where it is right.
/// </remarks>
internal static class OneDnnInstructionSet
{
    /// <summary>The variable oneDNN reads (its older name).</summary>
    internal const string Variable = "DNNL_MAX_CPU_ISA";

    /// <summary>oneDNN's newer name for the same setting.</summary>
    internal const string NewVariable = "ONEDNN_MAX_CPU_ISA";

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries",
        Justification = "oneDNN reads DNNL_MAX_CPU_ISA once, at its first primitive; only a module initializer runs early enough whatever the user calls first.")]
    internal static void ForwardBeforeOneDnnStarts()
    {
        foreach (var name in new[] { Variable, NewVariable })
        {
            string? value = Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrEmpty(value) && NativeEnvironment.Get(name) != value) _ = NativeEnvironment.Set(name, value);
        }
    }

    /// <summary>The cap in the native environment (what oneDNN reads), or null for none.</summary>
    internal static string? NativeValue() => new[] { NativeEnvironment.Get(Variable), NativeEnvironment.Get(NewVariable) }.FirstOrDefault(v => !string.IsNullOrEmpty(v));
}
