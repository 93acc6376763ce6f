using System.Diagnostics;
using MLNet.FlatDebias.Benchmarks;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// The library sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment before libtorch loads, in a process the
/// test starts fresh with the variable removed (the test host itself runs under test.sh, which sets it): each case runs
/// the OpenMP benchmark's child command (examples/Benchmarks), which trains one ERM epoch through the public API and
/// then reads the variable with libc's <c>getenv</c>, the way OpenMP reads it.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class OpenMpWaitPolicyTests
{
    [Fact]
    public void A_fresh_process_that_trains_gets_passive_waiting_from_the_library()
    {
        var result = RunChild(passive: true);
        Assert.Equal("PASSIVE", result.Policy);
        Assert.Equal(nameof(OpenMpWaitPolicySource.SetByLibrary), result.Source);
    }

    [Fact]
    public void A_users_own_setting_is_kept()
    {
        var result = RunChild(passive: true, environment: new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = "ACTIVE" });
        Assert.Equal("ACTIVE", result.Policy);
        Assert.Equal(nameof(OpenMpWaitPolicySource.SetByUser), result.Source);
    }

    [Fact]
    public void The_AppContext_switch_leaves_the_variable_alone()
    {
        var result = RunChild(passive: false);
        Assert.Equal("unset", result.Policy);
        Assert.Equal(nameof(OpenMpWaitPolicySource.LeftAlone), result.Source);
    }

    [Fact]
    public void An_application_that_loaded_libtorch_first_is_told_it_is_too_late()
    {
        var result = RunChild(passive: true, extraArguments: [OpenMpBenchmark.TorchFirstFlag]);
        Assert.Equal("unset", result.Policy);
        Assert.Equal(nameof(OpenMpWaitPolicySource.TooLate), result.Source);
    }

    [Fact]
    public void In_this_process_the_native_environment_has_the_policy_OpenMP_read()
    {
        // The test host: test.sh sets PASSIVE (or keeps the user's value) before the process starts, and the library
        // forwards or sets it; either way the native value is not empty once the library is in use.
        TorchRuntime.EnsureLoaded();
        Assert.False(string.IsNullOrEmpty(TorchRuntime.OpenMpWaitPolicyValue), $"source {TorchRuntime.OpenMpWaitPolicySource}");
    }

    private static OpenMpBenchmark.ChildResult RunChild(bool passive, IReadOnlyDictionary<string, string>? environment = null,
        IEnumerable<string>? extraArguments = null)
    {
        using var process = OpenMpBenchmark.Start(passive, rows: 64, epochs: 1, load: false, environment, extraArguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the child training did not finish in 2 minutes");
        }
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {stdout.Result}{stderr.Result}");
        return OpenMpBenchmark.Parse(stdout.Result);
    }
}
