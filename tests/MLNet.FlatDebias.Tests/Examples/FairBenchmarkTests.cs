using MLNet.FlatDebias.Examples.FairBenchmark;
using MLNet.FlatDebias.Tests.Infrastructure;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The fair benchmark (examples/FairBenchmark) in its --quick setting: the same draws for every method, the
/// selection written beside the runs, charts drawn, and a second call resuming without training.</summary>
[Collection(TorchCollection.Name)]
public sealed class FairBenchmarkTests
{
    [Fact]
    public void Quick_run_gives_every_method_the_same_draws_writes_runs_summary_and_charts_and_resumes()
    {
        using var folder = new TempFolder("fair-benchmark");
        string[] args = ["--quick", "--choose-sets", "cmnist5", "--report-sets", "wbr18", "--methods", "erm,groupdro,flatdebias", "--out", folder.Path];
        var first = new StringWriter();
        Assert.Equal(0, FairBenchmarkProgram.Run(args, first));

        var runs = File.ReadAllLines(folder.Combine("runs.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        // Two draws (0: defaults, 1: random) with seed 0 per set, regime and method: the same number for every method.
        foreach (var method in new[] { "erm", "groupdro", "flatdebias" })
            foreach (var set in new[] { "cmnist5", "wbr18" })
                foreach (var regime in new[] { "Groups", "NoGroups" })
                    Assert.Equal(2, runs.Count(r => r[0] == set && r[1] == method && r[2] == regime && r[4] == "0"));
        Assert.All(runs.Where(r => r[3] == "0"), r => Assert.EndsWith("\"defaults\"", string.Join(",", r), StringComparison.Ordinal));
        // The chosen draw's re-run with seed 1 exists for each method, set and regime.
        Assert.Equal(12, runs.Where(r => r[4] == "1").Select(r => (r[0], r[1], r[2])).Distinct().Count());

        var summary = File.ReadAllText(folder.Combine("summary.md"));
        Assert.Contains("### cmnist5 (choosing set), selection Groups", summary);
        Assert.Contains("### wbr18 (report-only set), selection NoGroups", summary);
        Assert.Contains("### Defaults chosen on the choosing sets, reported on the report-only sets", summary);
        var csv = File.ReadAllLines(folder.Combine("summary.csv"));
        Assert.Equal(1 + 2 * 2 * 3, csv.Length);
        foreach (var png in new[] { "wga-cmnist5.png", "wga-wbr18.png" })
        {
            var bytes = File.ReadAllBytes(folder.Combine(png));
            Assert.True(bytes.Length > 1000, png);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }

        var second = new StringWriter();
        Assert.Equal(0, FairBenchmarkProgram.Run(args, second));
        Assert.DoesNotContain(" seed 0: ", second.ToString());                 // nothing trained again
        Assert.Equal(runs.Count + 1, File.ReadAllLines(folder.Combine("runs.csv")).Length);
    }

    [Theory]
    [InlineData("--draws", "0")]
    [InlineData("--seeds", "0,1")]
    [InlineData("--methods", "erm,magic")]
    [InlineData("--choose-sets", "cmnist5", "--report-sets", "cmnist5")]
    [InlineData("--unknown")]
    public void Bad_command_line_gives_exit_code_2(params string[] args)
        => Assert.Equal(2, FairBenchmarkProgram.Run(args, new StringWriter()));

    [Fact]
    public void Search_space_draws_are_the_same_on_every_call_and_within_their_ranges()
    {
        var spaces = SearchSpace.Read(Path.Combine(AppContext.BaseDirectory, "search-spaces.txt"));
        Assert.Equal(BenchmarkMethods.All.Order(), spaces.Keys.Order());
        for (int draw = 1; draw <= 20; draw++)
        {
            var a = spaces["flatdebias"].Sample(draw);
            Assert.Equal(a, spaces["flatdebias"].Sample(draw));
            Assert.InRange(a["lr"], 1e-4, 1e-2);
            Assert.InRange(a["quantile"], 0.5, 0.95);
            Assert.Contains(a["topk"], new[] { 0.0, 4, 8, 16 });
            var dro = spaces["groupdro"].Sample(draw);
            Assert.True(dro["wd"] is >= 1e-6 and <= 1e-3 or >= 1e-2 and <= 1, $"groupdro wd {dro["wd"]}");
        }
        Assert.NotEqual(spaces["flatdebias"].Sample(1)["lr"], spaces["flatdebias"].Sample(2)["lr"]);
    }
}
