using System.Runtime.InteropServices;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// Switches of libtorch's global context (<c>at::globalContext()</c>) that TorchSharp does not expose, called through
/// the C++ entry points libtorch exports. Only NNPACK's is used.
/// </summary>
/// <remarks>
/// libtorch asks NNPACK whether it can run every convolution that oneDNN does not take (float64, single rows); where
/// NNPACK cannot initialise (this VM kind: "Unsupported hardware") libtorch 2.10 prints
/// <c>Could not initialize NNPACK! Reason: Unsupported hardware.</c> to standard error on every such call. NNPACK is
/// never what the library's training uses (it has no backward pass and libtorch prefers oneDNN for float32 batches),
/// so the library turns it off when libtorch loads: the same results, and a quiet console.
/// </remarks>
internal static class LibTorchContext
{
    private delegate IntPtr GlobalContext();
    private delegate void SetFlag(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    // Itanium C++ names (Linux, macOS) first, then MSVC's (Windows).
    private static readonly (string Library, string Context, string SetNnpack)[] EntryPoints =
    [
        ("libtorch_cpu.so", "_ZN2at13globalContextEv", "_ZN2at7Context20setUserEnabledNNPACKEb"),
        ("libtorch_cpu.dylib", "_ZN2at13globalContextEv", "_ZN2at7Context20setUserEnabledNNPACKEb"),
        ("torch_cpu.dll", "?globalContext@at@@YAAEAVContext@1@XZ", "?setUserEnabledNNPACK@Context@at@@QEAAX_N@Z"),
    ];

    /// <summary>Turns NNPACK off; false when libtorch's entry points are not found (another libtorch build).
    /// Call after libtorch is loaded.</summary>
    public static bool TryDisableNnpack()
    {
        foreach (var (library, context, setNnpack) in EntryPoints)
        {
            if (!NativeLibrary.TryLoad(library, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, context, out var contextAddress) || !NativeLibrary.TryGetExport(handle, setNnpack, out var setAddress))
                continue;
            var globalContext = Marshal.GetDelegateForFunctionPointer<GlobalContext>(contextAddress)();
            Marshal.GetDelegateForFunctionPointer<SetFlag>(setAddress)(globalContext, false);
            return true;
        }
        return false;
    }
}
