using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Networks;

[Collection(TorchCollection.Name)]
public sealed class TorchRuntimeTests
{
    [Fact]
    public void Cuda_without_a_gpu_throws_with_a_message_that_says_so_unless_fallback_is_allowed()
    {
        if (cuda.is_available())
        {
            Assert.Equal(TorchSharp.DeviceType.CUDA, TorchRuntime.ResolveDevice(TrainingDevice.Cuda).type);
            return;
        }
        var e = Assert.Throws<InvalidOperationException>(() => TorchRuntime.ResolveDevice(TrainingDevice.Cuda));
        Assert.Contains("no CUDA device is available", e.Message);
        Assert.Equal(TorchSharp.DeviceType.CPU, TorchRuntime.ResolveDevice(TrainingDevice.Cuda, fallbackToCpu: true).type);
        Assert.Equal(TorchSharp.DeviceType.CPU, TorchRuntime.ResolveDevice(TrainingDevice.Auto).type);
        Assert.Equal(TorchSharp.DeviceType.CPU, TorchRuntime.ResolveDevice(TrainingDevice.Cpu).type);
    }

    [Fact]
    public void Output_copy_of_LibTorchSharp_is_patched_exactly_when_the_system_lacks_GLIBCXX_3_4_32()
    {
        var output = Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(output);
        var original = OriginalLibTorchSharp();
        bool systemHasIt = File.ReadAllBytes("/usr/lib/x86_64-linux-gnu/libstdc++.so.6").AsSpan().IndexOf("GLIBCXX_3.4.32"u8) >= 0;
        Assert.True(ElfVersionNeeds.HasStrongRequirement(File.ReadAllBytes(original), "GLIBCXX_3.4.32"), "the NuGet copy should require the version");
        foreach (var path in output)
            Assert.Equal(systemHasIt, ElfVersionNeeds.HasStrongRequirement(File.ReadAllBytes(path), "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void Diagnose_names_the_missing_backend_package()
    {
        var dir = Directory.CreateTempSubdirectory("flatdebias-diag-").FullName;
        try
        {
            var message = TorchRuntime.Diagnose(dir);
            foreach (var package in new[] { "libtorch-cpu-linux-x64", "libtorch-cpu-win-x64", "libtorch-cpu-osx-arm64", "TorchSharp-cpu", "TorchSharp-cuda-linux", "TorchSharp-cuda-windows" })
                Assert.Contains(package, message);
            Assert.Contains(dir, message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Diagnose_names_the_libstdcxx_version_when_the_unpatched_library_is_used()
    {
        bool systemHasIt = File.ReadAllBytes("/usr/lib/x86_64-linux-gnu/libstdc++.so.6").AsSpan().IndexOf("GLIBCXX_3.4.32"u8) >= 0;
        var dir = Directory.CreateTempSubdirectory("flatdebias-diag-").FullName;
        try
        {
            File.Copy(OriginalLibTorchSharp(), Path.Combine(dir, "libLibTorchSharp.so"));
            File.WriteAllBytes(Path.Combine(dir, "libtorch_cpu.so"), []);
            var message = TorchRuntime.Diagnose(dir);
            if (systemHasIt) Assert.DoesNotContain("GLIBCXX_3.4.32", message);
            else
            {
                Assert.Contains("GLIBCXX_3.4.32", message);
                Assert.Contains("MLNet.FlatDebias NuGet package", message);
                Assert.Contains("TorchSharpNative.targets", message);
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    private static string OriginalLibTorchSharp()
    {
        var root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                   ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"expected the NuGet copy at {path}");
        return path;
    }
}
