using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// Loads TorchSharp's native backend once, turns a load failure into an exception that says what is wrong
/// and what to do, resolves <see cref="TrainingDevice"/> values and applies seeds.
/// </summary>
public static class TorchRuntime
{
    private const string GlibcxxVersion = "GLIBCXX_3.4.32";
    private static readonly object Gate = new();
    private static bool loaded;
    private static bool nnpackDisabled;

    /// <summary>Makes sure TorchSharp's native libraries are loaded; cheap after the first call.</summary>
    /// <exception cref="InvalidOperationException">The native backend cannot be loaded; the message names the
    /// cause found (missing backend package, a libstdc++ too old for the library) and the fix.</exception>
    public static void EnsureLoaded()
    {
        if (loaded) return;
        lock (Gate)
        {
            if (loaded) return;
            try
            {
                InitializeDeviceType(TorchSharp.DeviceType.CPU);
            }
            catch (Exception e)
            {
                throw new InvalidOperationException(
                    "TorchSharp's native library could not be loaded. " + Diagnose(AppContext.BaseDirectory) +
                    " (TorchSharp said: " + Innermost(e).Message + ")", e);
            }
            nnpackDisabled = LibTorchContext.TryDisableNnpack();
            loaded = true;
        }
    }

    /// <summary>
    /// The instruction-set cap of libtorch's oneDNN (its convolution backend on the CPU) in the native environment:
    /// <c>DNNL_MAX_CPU_ISA</c>, else <c>ONEDNN_MAX_CPU_ISA</c>; null for none (oneDNN then uses every instruction the CPU
    /// has). The library sets none; a value the application sets through <see cref="Environment.SetEnvironmentVariable(string, string)"/>
    /// before its first use of the library is forwarded to the native environment (on Linux and macOS .NET's own call does
    /// not reach it), where oneDNN reads it once, at its first primitive.
    /// </summary>
    /// <remarks>
    /// A cap is no cure for the defects <see cref="ConvolutionGuard"/> handles: oneDNN's AVX2 kernels are right where its
    /// AVX-512 kernels are wrong for channel counts that are not a multiple of 16, but wrong themselves for counts that are
    /// not a multiple of 8 (measured: docs/native-backend.md), and 1.1-1.6x slower on convolutions on an AVX-512 CPU.
    /// </remarks>
    public static string? OneDnnInstructionSetValue => OneDnnInstructionSet.NativeValue();

    /// <summary>
    /// Whether the library checks each convolution shape its networks compute and computes it by a path the backend gets
    /// right. Default <see cref="ConvolutionGuardMode.Auto"/>, or what the environment variable
    /// <c>MLNET_FLATDEBIAS_CONVOLUTION_GUARD</c> (<c>auto</c> or <c>off</c>) says; setting this property overrides both from
    /// then on.
    /// </summary>
    /// <remarks>
    /// <para>Why: libtorch 2.10's oneDNN computes some convolutions wrong, silently (errors of order one, or NaN): with its
    /// AVX-512 kernels, the input gradient of 3x3 convolutions whose output channels are not a multiple of 16, the output of
    /// 3x3 convolutions with more than 16 input channels that are not a multiple of 16, the input gradient of some stride-2
    /// convolutions of odd-sized inputs, and second-order gradients of 1x1 convolutions at small batches; with its AVX2
    /// kernels (<c>DNNL_MAX_CPU_ISA=AVX2</c> on the same machine), the same for channel counts that are not a multiple of 8.
    /// Whole blocks of channels are right.</para>
    /// <para>Every convolution of a library network (<see cref="Trainers.Networks.GuardedConv2d"/>) is looked up by its
    /// <see cref="ConvolutionShape"/> (channels, kernel, stride, padding, input size, batch, which gradients are taken).
    /// The first time a shape is met it is checked in float32 against float64 (output, weight gradient, input gradient
    /// where taken, second-order gradients where the trace penalty takes them; at one thread, where the defects show every
    /// time, and at the process's thread count) by the paths of <see cref="ConvolutionPath"/> in order: directly, with
    /// channels padded to multiples of 16, unfolded into a matrix product. The first that passes is used for that shape from
    /// then on; where none passes, the call throws an <see cref="InvalidOperationException"/> that names the operations and
    /// the shape, rather than train or predict on wrong numbers. Where the backend is right (channel counts in whole blocks,
    /// as the library's default networks have) every convolution stays direct: full speed, results bit for bit as without
    /// the guard. The checks take about 0.1 s for the small networks, 5 s for a ResNet-18 and 15 s for a ResNet-50
    /// at 224 px in batches of 8, once per process; <see cref="ConvolutionGuardReport"/> lists them
    /// (docs/native-backend.md has the measurements).</para>
    /// <para>Networks of your own given to <see cref="Trainers.Fisher.FisherTrace"/> or <see cref="Trainers.Fisher.LastLayerGradientNorm"/>
    /// with a TorchSharp <c>Conv2d</c> make those calls throw where the backend has the known defects
    /// (<see cref="ConvolutionBackendDefective"/>); build them with <see cref="Trainers.Networks.GuardedConv2d"/>.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">Set to a value that is not a <see cref="ConvolutionGuardMode"/>.</exception>
    public static ConvolutionGuardMode ConvolutionGuard
    {
        get => ConvolutionBackendGuard.Process.Mode;
        set => ConvolutionBackendGuard.Process.Mode = value;
    }

    /// <summary>True when the convolution backend, as this process runs it, has the known defects of libtorch 2.10's oneDNN
    /// (two probes in float32 against float64, run the first time this is read: a 3x3 convolution's input gradient with 4
    /// output channels, its output with 20 input channels; both wrong with oneDNN's AVX-512 and its AVX2 kernels on this
    /// project's machines). Reading it loads libtorch.</summary>
    public static bool ConvolutionBackendDefective
    {
        get
        {
            EnsureLoaded();
            return ConvolutionBackendGuard.Process.DefectFound;
        }
    }

    /// <summary>What the convolution guard has found and decided in this process so far: the probes, every shape checked,
    /// and the path each is computed by (see <see cref="ConvolutionGuard"/>). Its <c>ToString()</c> is a short summary.</summary>
    public static ConvolutionGuardReport ConvolutionGuardReport => ConvolutionBackendGuard.Process.Report();

    /// <summary>
    /// True when the library turned libtorch's NNPACK convolutions off when it loaded libtorch (false before it loads, and
    /// on a libtorch build whose context functions it cannot find). Where NNPACK cannot initialise (an unsupported CPU)
    /// libtorch prints <c>Could not initialize NNPACK! Reason: Unsupported hardware.</c> on every convolution oneDNN does
    /// not take (float64, single rows); the library never computes with NNPACK (it has no backward pass, and float32
    /// batches go to oneDNN), so turning it off changes no result and keeps the console quiet.
    /// </summary>
    public static bool NnpackDisabled
    {
        get
        {
            EnsureLoaded();
            return nnpackDisabled;
        }
    }

    /// <summary>
    /// Where the OpenMP wait policy of libtorch's threads came from. The library sets <c>OMP_WAIT_POLICY=PASSIVE</c>
    /// in the native environment when it is first used, before libtorch loads, unless the process already has the
    /// variable: idle threads then sleep instead of spinning, which keeps training fast beside other busy processes
    /// (spinning threads made epochs 2.7-10x slower here) and leaves results unchanged.
    /// </summary>
    /// <remarks>
    /// It cannot take effect when the application called TorchSharp itself before its first use of this library
    /// (<see cref="OpenMpWaitPolicySource.TooLate"/>): set <c>OMP_WAIT_POLICY=PASSIVE</c> in the environment that starts
    /// the process, or touch this library first (for example read this property). To keep the library from setting
    /// it, set the variable yourself (any value OpenMP accepts, e.g. <c>ACTIVE</c>) or turn on the AppContext switch
    /// <c>MLNet.FlatDebias.KeepOpenMpWaitPolicy</c>.
    /// </remarks>
    public static OpenMpWaitPolicySource OpenMpWaitPolicySource => OpenMpWaitPolicy.Source;

    /// <summary>The value of <c>OMP_WAIT_POLICY</c> in the native environment, which OpenMP reads when libtorch loads
    /// (on Linux and macOS this can differ from <see cref="Environment.GetEnvironmentVariable(string)"/>), or null.</summary>
    public static string? OpenMpWaitPolicyValue => OpenMpWaitPolicy.NativeValue();

    /// <summary>
    /// Sets the number of threads libtorch uses inside one operation (its intra-op pool) for the whole process, as
    /// <c>torch.set_num_threads</c>. libtorch's default is one per core; <see cref="NetworkTrainerOptions.NumberOfThreads"/>
    /// calls this at the start of <c>Fit</c>. Results depend on the thread count (summation order), so a run that must
    /// repeat another should use the same count. The environment variable <c>OMP_NUM_THREADS</c>, set before the
    /// process starts, sets the default too.
    /// </summary>
    /// <param name="threads">Threads, 1 and up.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="threads"/> is below 1.</exception>
    public static void SetNumberOfThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, $"The number of threads must be >= 1; got {threads}.");
        EnsureLoaded();
        set_num_threads(threads);
    }

    /// <summary>The number of threads libtorch uses inside one operation now.</summary>
    public static int NumberOfThreads
    {
        get
        {
            EnsureLoaded();
            return get_num_threads();
        }
    }

    /// <summary>
    /// Explains why TorchSharp's native library would not load from an application folder: no libtorch
    /// backend copied there, or a <c>libLibTorchSharp.so</c> that needs a newer libstdc++ than the system has.
    /// </summary>
    /// <param name="applicationDirectory">The folder the application runs from (its <c>bin</c> folder).</param>
    /// <returns>One or more sentences naming the cause and the fix.</returns>
    public static string Diagnose(string applicationDirectory)
    {
        ArgumentNullException.ThrowIfNull(applicationDirectory);
        var message = new StringBuilder();
        var bridge = FindNative(applicationDirectory, "libLibTorchSharp.so", "LibTorchSharp.dll", "libLibTorchSharp.dylib");
        var backend = FindNative(applicationDirectory, "libtorch_cpu.so", "torch_cpu.dll", "libtorch_cpu.dylib");
        if (bridge is null || backend is null)
        {
            message.Append("No libtorch backend was found under '").Append(applicationDirectory).Append("'. ")
                   .Append("The application (not the library) must reference one backend package matching TorchSharp 0.107.0: ")
                   .Append("for the CPU, libtorch-cpu-linux-x64, libtorch-cpu-win-x64 or libtorch-cpu-osx-arm64 2.10.0 ")
                   .Append("(or TorchSharp-cpu 0.107.0 for all three); for an NVIDIA GPU, TorchSharp-cuda-linux or ")
                   .Append("TorchSharp-cuda-windows 0.107.0 (e.g. 'dotnet add package libtorch-cpu-linux-x64 --version 2.10.0').");
            return message.ToString();
        }

        if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RequiresMissingGlibcxx(bridge))
        {
            message.Append('\'').Append(bridge).Append("' requires ").Append(GlibcxxVersion)
                   .Append(", which this system's libstdc++ lacks. Reference the MLNet.FlatDebias NuGet package (its ")
                   .Append("build targets mark that version weak in the output folder's copy after build and publish; the marker ")
                   .Append("symbol is never called) and rebuild, and check that FlatDebiasPatchLibTorchSharp is not false; with a ")
                   .Append("ProjectReference, import build/TorchSharpNative.targets of the library's repository; or install a ")
                   .Append("libstdc++ from GCC 13 or newer.");
            return message.ToString();
        }

        message.Append("The backend files are present ('").Append(backend).Append("'); check that their version matches ")
               .Append("TorchSharp's (libtorch 2.10 for TorchSharp 0.107) and run 'ldd' on '").Append(bridge)
               .Append("' to see which shared library is missing.");
        return message.ToString();
    }

    /// <summary>Resolves a requested device to a TorchSharp device.</summary>
    /// <param name="requested">The device asked for.</param>
    /// <param name="fallbackToCpu">When true, a <see cref="TrainingDevice.Cuda"/> request without a usable GPU
    /// gives the CPU (as ML.NET's <c>MLContext.FallbackToCpu</c>); when false it throws.</param>
    /// <returns>The device to use.</returns>
    /// <exception cref="InvalidOperationException">CUDA was asked for, none is available and no fallback was allowed.</exception>
    public static Device ResolveDevice(TrainingDevice requested, bool fallbackToCpu = false)
    {
        EnsureLoaded();
        bool cuda = cuda_is_available();
        return requested switch
        {
            TrainingDevice.Cpu => CPU,
            TrainingDevice.Auto => cuda ? CUDA : CPU,
            TrainingDevice.Cuda when cuda => CUDA,
            TrainingDevice.Cuda when fallbackToCpu => CPU,
            TrainingDevice.Cuda => throw new InvalidOperationException(
                "Device 'Cuda' was requested but no CUDA device is available: either no GPU is present or the " +
                "application references a CPU-only libtorch backend (build with -p:TorchBackend=cuda-linux or " +
                "cuda-windows). Use TrainingDevice.Auto or Cpu, or allow the fallback to the CPU."),
            _ => throw new ArgumentOutOfRangeException(nameof(requested), requested, "Unknown device."),
        };
    }

    /// <summary>Seeds TorchSharp's global generators (CPU and CUDA) so that weight initialisation, dropout and
    /// sampling repeat. Data order uses its own seeded generator.</summary>
    /// <param name="seed">Any integer.</param>
    public static void SetSeed(int seed)
    {
        EnsureLoaded();
        manual_seed(seed);
        if (cuda_is_available()) cuda.manual_seed_all(seed);
    }

    private static string? FindNative(string directory, params string[] names)
    {
        if (!Directory.Exists(directory)) return null;
        foreach (var name in names)
        {
            var direct = Path.Combine(directory, name);
            if (File.Exists(direct)) return direct;
            var found = Directory.EnumerateFiles(directory, name, SearchOption.AllDirectories).FirstOrDefault();
            if (found is not null) return found;
        }
        return null;
    }

    /// <summary>True when <paramref name="library"/> asks for GLIBCXX_3.4.32 non-weakly and the system lacks it.</summary>
    internal static bool RequiresMissingGlibcxx(string library)
    {
        var system = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        if (system is null || Contains(File.ReadAllBytes(system), GlibcxxVersion)) return false;
        return ElfVersionNeeds.HasStrongRequirement(File.ReadAllBytes(library), GlibcxxVersion);
    }

    private static bool Contains(byte[] haystack, string needle) => haystack.AsSpan().IndexOf(Encoding.ASCII.GetBytes(needle)) >= 0;

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
