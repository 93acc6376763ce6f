using System.Runtime.InteropServices;
using System.Text;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Loads TorchSharp's native backend once, turns a load failure into an exception that says what is wrong
/// and what to do, resolves <see cref="TrainingDevice"/> values and applies seeds.
/// </summary>
public static class TorchRuntime
{
    private const string GlibcxxVersion = "GLIBCXX_3.4.32";
    private static readonly object Gate = new();
    private static bool loaded;

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
            loaded = true;
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
