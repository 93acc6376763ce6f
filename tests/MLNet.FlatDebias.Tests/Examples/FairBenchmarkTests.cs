using System.Globalization;
using MLNet.FlatDebias.Examples.FairBenchmark;
using MLNet.FlatDebias.Search;
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
        Assert.Equal(runs.Count, Directory.GetFiles(folder.Combine("runs"), "*.csv").Length);   // one result file per training
    }

    [Fact]
    public void Runs_by_stage_and_index_in_any_order_give_the_one_process_summary_and_a_partial_sweep_lists_what_is_missing()
    {
        string[] sweep = ["--quick", "--choose-sets", "cmnist5", "--report-sets", "pmnist", "--methods", "erm,jtt"];
        using var single = new TempFolder("fair-benchmark-single");
        using var split = new TempFolder("fair-benchmark-split");
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", single.Path], new StringWriter()));

        // --list-runs: the same lines on every call; draws 0..N-1, then seeds 0..M-1.
        var list = new StringWriter();
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--list-runs"], list));
        var lines = list.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var again = new StringWriter();
        FairBenchmarkProgram.Run([.. sweep, "--list-runs"], again);
        Assert.Equal(list.ToString(), again.ToString());
        // 2 sets x 2 regimes x 2 methods x (2 draws + 1 defaults seed); seeds: 2 x 2 x 2 chosen + 2 protocol defaults on pmnist.
        Assert.Equal(24, lines.Count(l => l.StartsWith("draws\t", StringComparison.Ordinal)));
        Assert.Equal(10, lines.Count(l => l.StartsWith("seeds\t", StringComparison.Ordinal)));
        Assert.Equal(Enumerable.Range(0, 24).Select(i => i.ToString(CultureInfo.InvariantCulture)),
            lines.Where(l => l.StartsWith("draws", StringComparison.Ordinal)).Select(l => l.Split('\t')[1]));

        // Stage seeds before the draws it needs: refused (exit 1), nothing trained.
        Assert.Equal(1, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--stage", "seeds", "--run-index", "0"], new StringWriter()));
        // Part of the draws, the odd indices first, one index from SLURM_ARRAY_TASK_ID: the summary is partial (exit 3).
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--stage", "draws", "--run-index", "1,3,5-9"], new StringWriter()));
        Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "0");
        try { Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--stage", "draws"], new StringWriter())); }
        finally { Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", null); }
        Assert.Equal(8, Directory.GetFiles(split.Combine("runs"), "*.csv").Length);
        Assert.Equal(3, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--summarize"], new StringWriter()));
        var missing = File.ReadAllLines(split.Combine("missing.txt"));
        Assert.Contains(missing, l => l.StartsWith("draws run 2 ", StringComparison.Ordinal));
        Assert.DoesNotContain(missing, l => l.StartsWith("draws run 1 ", StringComparison.Ordinal));
        Assert.Contains(missing, l => l.StartsWith("seeds run 1 ", StringComparison.Ordinal) && l.Contains("have not finished", StringComparison.Ordinal));   // jtt: draw 1 (index 4) not run
        Assert.StartsWith("**Partial:", File.ReadAllText(split.Combine("summary.md")), StringComparison.Ordinal);

        // The rest, in reverse order, then the seeds: the same summary as one process, byte for byte.
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--stage", "draws", "--run-index", "10-23,2,4"], new StringWriter()));
        var rerun = new StringWriter();
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--stage", "draws", "--run-index", "5"], rerun));
        Assert.Contains("finished before", rerun.ToString());
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--stage", "seeds"], new StringWriter()));
        Assert.Equal(0, FairBenchmarkProgram.Run([.. sweep, "--out", split.Path, "--summarize"], new StringWriter()));
        Assert.Empty(File.ReadAllLines(split.Combine("missing.txt")));
        foreach (var file in new[] { "summary.md", "summary.csv" })
            Assert.Equal(File.ReadAllText(single.Combine(file)), File.ReadAllText(split.Combine(file)));
        Assert.Equal(Directory.GetFiles(single.Combine("runs")).Select(Path.GetFileName).Order(),
            Directory.GetFiles(split.Combine("runs")).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_result_folder_records_each_methods_defaults_and_refuses_results_trained_under_other_defaults()
    {
        // Draw 0 trains with the library's defaults: after they change, a resumed folder's draw-0 results must not pass for
        // the new defaults' results.
        var flat = MethodDefaults.Describe(DebiasMethodNames.Parse("flatdebias"));
        Assert.Contains("TraceBoundQuantile=0.83;", flat);
        Assert.Contains("TopK=16;", flat);
        Assert.DoesNotContain(";LearningRate=", ";" + flat);   // the shared network settings are each set's
        Assert.NotEqual(flat, MethodDefaults.Describe(DebiasMethodNames.Parse("flatdebias-paper")));
        Assert.Contains("InverseRegularizationValues=1,0.7,0.3,0.1,0.07,0.03,0.01;", MethodDefaults.Describe(DebiasMethodNames.Parse("dfr")));

        using var folder = new TempFolder("fair-benchmark-defaults");
        SearchTrialStore.Open(folder.Path).CheckDefaults(["erm", "flatdebias"]);
        var file = folder.Combine("runs", SearchTrialStore.DefaultsFileName);
        Assert.Contains($"flatdebias\t{flat}", File.ReadAllLines(file));
        SearchTrialStore.Open(folder.Path).CheckDefaults(["flatdebias", "jtt"]);     // unchanged: passes, and adds jtt
        Assert.Equal(["erm", "flatdebias", "jtt"], File.ReadAllLines(file).Where(l => !l.StartsWith('#')).Select(l => l.Split('\t')[0]));
        Assert.Empty(Directory.GetFiles(folder.Combine("runs"), ".*"));         // no temporary file left

        File.WriteAllLines(file, File.ReadAllLines(file).Select(l => l.StartsWith("flatdebias\t", StringComparison.Ordinal) ? l.Replace("TopK=16", "TopK=8") : l));
        var e = Assert.Throws<InvalidOperationException>(() => SearchTrialStore.Open(folder.Path).CheckDefaults(["erm", "flatdebias"],
            m => RowOverlap.Methods.Contains(m) ? $"and {RowOverlap.Folder(folder.Path)} (the row overlap trains its defaults)" : null));
        Assert.Contains("flatdebias: the results were trained with {", e.Message);
        Assert.Contains("TopK=8", e.Message);
        Assert.Contains("*.flatdebias.*.d0.*.csv", e.Message);
        Assert.Contains("overlap", e.Message);
        Assert.DoesNotContain("erm:", e.Message);
        Assert.Equal(2, FairBenchmarkProgram.Run(["--quick", "--methods", "erm", "--out", folder.Path, "--summarize"], new StringWriter()));
    }

    [Fact]
    public void A_result_folder_refuses_draws_trained_with_values_the_search_space_no_longer_gives()
    {
        // A changed search-space line (a new knob, another range) changes its draws; their old results must not be reused.
        var space = new Dictionary<string, SearchSpace> { ["m"] = new("m", [("x", SearchDistribution.Parse("uniform(0, 1)"))]) };
        var plan = new BenchmarkPlan(["m"], space, draws: 3, seeds: [1]);
        using var folder = new TempFolder("fair-benchmark-values");
        var store = SearchTrialStore.Open(folder.Path);
        SearchTrial Run(int draw, string values) => new("s", "m", SelectionRegime.Groups, draw, 0, values, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1);
        store.Save(Run(0, "defaults"));
        store.Save(Run(1, BenchmarkPlan.Describe(plan.Values("m", 1))));
        store.Save(Run(2, BenchmarkPlan.Describe(plan.Values("m", 2)) + SearchTrial.FailedMarker + "a reason"));
        store.CheckDrawValues(plan.Spaces, plan.Methods, plan.Draws);                                             // as planned (a failed run too): passes

        var other = new BenchmarkPlan(["m"], new Dictionary<string, SearchSpace> { ["m"] = new("m", [("x", SearchDistribution.Parse("uniform(0, 1)")), ("y", SearchDistribution.Parse("choice(0, 1)"))]) }, 3, [1]);
        var e = Assert.Throws<InvalidOperationException>(() => store.CheckDrawValues(other.Spaces, other.Methods, other.Draws));
        Assert.Contains("m: draws 1, 2 were trained with other values", e.Message);
        Assert.Contains(";y=", e.Message);
        Assert.Contains("*.m.*.d1.*.csv", e.Message);
        Assert.DoesNotContain(".d0.", e.Message);                                // draw 0 is the defaults' (CheckDefaults)
    }

    [Theory]
    [InlineData("--stage", "draws", "--run-index", "100000")]
    [InlineData("--stage", "draws", "--run-index", "3-1")]
    [InlineData("--stage", "draws", "--run-index", "x")]
    [InlineData("--run-index", "3")]
    [InlineData("--stage", "everything")]
    [InlineData("--stage", "draws", "--summarize")]
    [InlineData("--device", "Tpu")]
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
        var spaces = SearchSpace.Defaults;
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

    [Fact]
    public void The_protocols_default_is_the_draw_with_the_best_worst_choosing_set_and_sets_that_cannot_choose_are_named()
    {
        var plan = new BenchmarkPlan(["m"], new Dictionary<string, SearchSpace>(), draws: 3, seeds: [1]);
        SearchTrial Run(string set, int draw, double validationWorstGroup, int seed = 0, SelectionRegime regime = SelectionRegime.Groups)
            => new(set, "m", regime, draw, seed, "", validationWorstGroup, 0, 0, 0, 0, 0, 1);
        // Draw 1 has the best mean (0.5) but fails on b; draw 2 is steadier (worst 0.3); c scores every draw 0.
        var runs = new List<SearchTrial>
        {
            Run("a", 0, 0.2), Run("b", 0, 0.2), Run("c", 0, 0),
            Run("a", 1, 0.9), Run("b", 1, 0.1), Run("c", 1, 0),
            Run("a", 2, 0.35), Run("b", 2, 0.3), Run("c", 2, 0),
            Run("a", 1, 0.0, seed: 1), Run("b", 1, 0.0, regime: SelectionRegime.NoGroups), // not seed-0 groups runs: ignored
        };
        var both = plan.RecommendWithReasons(runs, ["a", "b"])["m"];
        Assert.Equal(2, both.Draw);
        Assert.Equal("b", both.WorstSet);
        Assert.Equal(0.3, both.WorstScore);
        Assert.Equal(0.325, both.MeanScore, 1e-12); // (0.35 + 0.3) / 2 in double: a few ulps
        Assert.Equal(["a", "b"], both.InformativeSets);

        // With c, every draw's worst case is 0: the tie goes to the best mean (draw 1), and c is named as unable to choose.
        var withC = plan.RecommendWithReasons(runs, ["a", "b", "c"])["m"];
        Assert.Equal(1, withC.Draw);
        Assert.Equal("c", withC.WorstSet);
        Assert.Equal(["a", "b"], withC.InformativeSets);
        Assert.Equal(1, plan.Recommend(runs, ["a", "b", "c"])["m"]);
    }
}
