using System.Globalization;
using MLNet.FlatDebias.Benchmarks;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Tests.Backend;

/// <summary>
/// What a fresh process gets (each case runs the guard benchmark's child command of examples/Benchmarks, which trains
/// through the public API): oneDNN's instruction-set cap; the same scores with the library's default (the full
/// instruction set, the convolution guard computing around its defects) as with the AVX2 cap; and a console with nothing
/// from the backend on standard error.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class BackendProcessTests
{
    private static readonly string[] Scores = [BackendGuardBenchmark.ChildCommand, BackendGuardBenchmark.ScoresFlag, "--width", "4"];

    [Fact]
    public void A_cap_set_through_dotnet_reaches_oneDNN_and_the_library_sets_none_of_its_own()
    {
        string[] tiny = [BackendGuardBenchmark.ChildCommand, "--width", "4", "--batch", "2", "--steps", "1"];
        Assert.Equal("none", Child(tiny, Clean())["cap"]);
        Assert.Equal("AVX2", Child(tiny, Clean(("DNNL_MAX_CPU_ISA", "AVX2")))["cap"]);
        // Environment.SetEnvironmentVariable before the library's first use: forwarded to the native environment.
        Assert.Equal("AVX2", Child([.. tiny, BackendGuardBenchmark.CapThroughDotnetFlag, "AVX2"], Clean())["cap"]);
    }

    [Fact]
    public void A_width_4_SmallCnn_trains_to_the_same_scores_with_the_guard_as_with_AVX2()
    {
        var first = ScoresOf(Child(Scores, Clean()));
        var again = ScoresOf(Child(Scores, Clean()));
        var avx2 = ScoresOf(Child(Scores, Clean(("DNNL_MAX_CPU_ISA", "AVX2"))));

        Assert.Equal(first, again); // the same seed, machine and thread count: the same model
        TensorAssert.AllClose(avx2, first, Tolerance.ScoresAcrossBackends, "library default (full instruction set, guarded) against AVX2");
    }

    [Fact]
    public void Training_and_scoring_a_SmallCnn_and_a_ResNet18_print_nothing_on_standard_error()
    {
        foreach (var environment in new[] { Clean(), Clean(("DNNL_MAX_CPU_ISA", "AVX2")) })
        {
            var (output, error) = ChildProcess.Run([.. Scores, BackendGuardBenchmark.ResNetFlag], environment, TimeSpan.FromMinutes(3));
            Assert.Contains("result scores=", output);
            Assert.True(error.Length == 0, $"standard error ({string.Join(", ", environment.Select(e => e.Key + "=" + e.Value))}):\n{error}");
        }
    }

    /// <summary>The test host's environment without the settings under test, plus <paramref name="settings"/>.</summary>
    private static Dictionary<string, string> Clean(params (string Name, string Value)[] settings)
    {
        var environment = new Dictionary<string, string>
        {
            ["DNNL_MAX_CPU_ISA"] = "",
            ["ONEDNN_MAX_CPU_ISA"] = "",
            ["MLNET_FLATDEBIAS_CONVOLUTION_GUARD"] = "",
        };
        foreach (var (name, value) in settings) environment[name] = value;
        return environment;
    }

    private static Dictionary<string, string> Child(IEnumerable<string> arguments, Dictionary<string, string> environment)
        => ChildProcess.ResultValues(ChildProcess.Run(arguments, environment, TimeSpan.FromMinutes(3)).Output);

    private static float[] ScoresOf(Dictionary<string, string> result)
        => result["scores"].Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
}
