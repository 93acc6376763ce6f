using Microsoft.ML;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Tests.Search;

/// <summary>
/// The method search (<c>CreateMethodSearch(options).Execute(train, validation)</c>) on a small biased feature set with a
/// linear head: a leaderboard entry equals training its configuration directly with the same seed; the chosen model is the
/// leaderboard's best by the stated rule and is that training; a budget of one draw trains each method's defaults exactly
/// once; a result folder resumes and survives cancellation; the report is written; bad input is named.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class MethodSearchTests
{
    /// <summary>The search and the direct training run the same float32 computation on the same machine and thread count,
    /// which is deterministic; the scores are counts over 100-200 rows, so any difference in the training shows as at
    /// least 1/200. 1e-12 leaves room for the summation order of the accuracies only.</summary>
    private const double SameTraining = 1e-12;

    private readonly MLContext ml = new(0);
    private readonly IDataView train;
    private readonly IDataView validation;
    private readonly IDataView heldOut;
    private readonly IDataView test;

    public MethodSearchTests()
    {
        train = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Rows(400, 0.95, seed: 1));
        validation = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(25, seed: 2));
        heldOut = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(25, seed: 3));
        test = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(50, seed: 4));
    }

    private static void Head(NetworkTrainerOptions o)
    {
        o.Network = NetworkKind.Linear;
        o.NumberOfEpochs = 3;
        o.BatchSize = 64;
        o.Optimizer = OptimizerKind.Adam;
        o.LearningRate = 1e-2;
        o.NumberOfThreads = 1;
    }

    private MethodSearchOptions Options(params DebiasMethod[] methods) => new()
    {
        GroupColumnName = "Group",
        Methods = methods.Length == 0 ? null : methods,
        DrawsPerMethod = 2,
        Seeds = [1],
        Network = Head,
        HeldOutSet = heldOut,
        TestSet = test,
        Device = TrainingDevice.Cpu,
    };

    private T Direct<T>(T o) where T : NetworkTrainerOptions
    {
        Head(o);
        o.Seed = 0;
        o.Device = TrainingDevice.Cpu;
        o.ValidationSet = validation;
        o.GroupColumnName = "Group";
        o.ModelSelection = ModelSelection.ValidationWorstGroupAccuracy;
        return o;
    }

    private void AssertSameScores(SearchTrial entry, ClassifierNetworkTransformer model, double tolerance = SameTraining)
    {
        var v = ml.MulticlassClassification.EvaluateGroups(model.Transform(validation), "Label", "Group");
        var t = ml.MulticlassClassification.EvaluateGroups(model.Transform(test), "Label", "Group");
        Assert.Equal(v.WorstGroupAccuracy, entry.ValidationWorstGroup, tolerance);
        Assert.Equal(v.WorstClassAccuracy, entry.ValidationWorstClass, tolerance);
        Assert.Equal(v.AverageAccuracy, entry.ValidationAccuracy, tolerance);
        Assert.Equal(t.WorstGroupAccuracy, entry.TestWorstGroup, tolerance);
        Assert.Equal(t.AverageAccuracy, entry.TestAccuracy, tolerance);
    }

    [Fact]
    public void A_leaderboard_entry_equals_training_its_configuration_directly_with_the_same_seed()
    {
        var search = ml.MulticlassClassification.CreateMethodSearch(Options(DebiasMethod.Erm, DebiasMethod.Jtt, DebiasMethod.Dfr));
        using var result = search.Execute(train, validation);
        Assert.Equal(3 * 2 + 1, result.Leaderboard.Count);
        SearchTrial Entry(string method, int draw) => result.Leaderboard.Single(t => t.Method == method && t.Draw == draw && t.Seed == 0);

        // ERM's defaults: the trainer's options with the search's network settings and nothing else.
        using (var erm = ml.MulticlassClassification.Trainers.Erm(Direct(new ErmTrainer.Options())).Fit(train))
            AssertSameScores(Entry("erm", 0), erm);

        // JTT's draw 1: the search space's values set by hand on JTT's own options.
        var values = search.Values(DebiasMethod.Jtt, 1);
        Assert.Equal(SearchSpace.Describe(values), Entry("jtt", 1).Values);
        var jttOptions = Direct(new JttTrainer.Options());
        jttOptions.LearningRate = values["lr"];
        jttOptions.WeightDecay = values["wd"];
        jttOptions.FirstStageEpochs = (int)Math.Clamp(Math.Round(values["T"]), 1, 3);
        jttOptions.UpweightFactor = values["upweight"];
        using (var jtt = ml.MulticlassClassification.Trainers.Jtt(jttOptions).Fit(train))
            AssertSameScores(Entry("jtt", 1), jtt);

        // DFR's defaults: ERM's defaults, then its last layer re-fitted on the held-out rows.
        using (var erm = ml.MulticlassClassification.Trainers.Erm(Direct(new ErmTrainer.Options())).Fit(train))
        using (var dfr = ml.MulticlassClassification.Trainers.Dfr(erm, new DfrTrainer.Options { GroupColumnName = "Group" }).Fit(heldOut))
            AssertSameScores(Entry("dfr", 0), dfr);
    }

    [Fact]
    public void The_chosen_model_is_the_leaderboards_best_by_the_rule_and_is_that_training()
    {
        var methods = new[] { DebiasMethod.Erm, DebiasMethod.GroupDro, DebiasMethod.Jtt };
        using var result = ml.MulticlassClassification.CreateMethodSearch(Options(methods)).Execute(train, validation);

        // The rule by hand: the best validation worst-group accuracy among the seed-0 draws; ties to the earlier method, then the lower draw.
        var draws = result.Leaderboard.Where(t => t.Seed == 0).ToList();
        Assert.Equal(methods.Length * 2, draws.Count);
        double best = draws.Max(t => t.ValidationWorstGroup);
        var expected = draws.Where(t => t.ValidationWorstGroup == best)
            .OrderBy(t => Array.IndexOf(methods, DebiasMethodNames.Parse(t.Method))).ThenBy(t => t.Draw).First();
        Assert.Equal(expected.Key, result.Chosen.Key);
        Assert.Equal(result.Chosen, result.Leaderboard[0]);
        Assert.True(draws.Zip(draws.Skip(1)).All(p => p.First.ValidationWorstGroup >= p.Second.ValidationWorstGroup), "the leaderboard is ordered best first");

        // The returned model is the chosen training itself, and the seeds' spread is computed from the re-runs.
        AssertSameScores(result.Chosen, result.Model);
        var rerun = Assert.Single(result.ChosenSeeds);
        Assert.Equal((result.Chosen.Method, result.Chosen.Draw, 1), (rerun.Method, rerun.Draw, rerun.Seed));
        Assert.Equal(rerun.ValidationWorstGroup, result.ChosenValidation.Mean);
        Assert.Equal(rerun.TestWorstGroup, result.ChosenTest.Worst);
        Assert.Equal(0, result.ChosenValidation.StandardDeviation);
    }

    [Fact]
    public void A_budget_of_one_draw_trains_each_methods_defaults_exactly_once()
    {
        var options = Options();
        options.DrawsPerMethod = 1;
        var reports = new List<MethodSearchProgress>();
        using var result = ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation, new SynchronousProgress<MethodSearchProgress>(reports.Add));

        // Every method the data allows (a group column in the training rows and a held-out set: all of them), draw 0 once.
        Assert.Equal(DebiasMethodNames.All, result.Methods);
        Assert.Empty(result.LeftOutMethods);
        var draws = reports.Where(r => r.Stage == "draws").Select(r => r.Trial).ToList();
        Assert.Equal(DebiasMethodNames.All.Select(DebiasMethodNames.Name), draws.Select(t => t.Method));
        Assert.All(draws, t => Assert.Equal((0, 0, "defaults", false), (t.Draw, t.Seed, t.Values, t.Failed)));
        Assert.All(reports, r => Assert.False(r.Reused));
        Assert.Equal(DebiasMethodNames.All.Count + 1, reports.Count);
        Assert.Equal(Enumerable.Range(1, reports.Count), reports.Select(r => r.Completed));
        Assert.All(reports, r => Assert.Equal(reports.Count, r.Total));
        Assert.Equal(0, result.Chosen.Draw);
    }

    [Fact]
    public void Without_groups_or_a_held_out_set_the_default_methods_leave_out_what_needs_them_and_choose_by_worst_class()
    {
        var options = new MethodSearchOptions { Network = Head, DrawsPerMethod = 1, Seeds = [1] };
        var search = ml.MulticlassClassification.CreateMethodSearch(options);
        var (methods, leftOut) = search.ResolveMethods(train);
        Assert.DoesNotContain(DebiasMethod.GroupDro, methods);
        Assert.DoesNotContain(DebiasMethod.Dfr, methods);
        Assert.DoesNotContain(DebiasMethod.Dpe, methods);
        Assert.Contains("group column", leftOut[DebiasMethod.GroupDro]);
        Assert.Contains("HeldOutSet", leftOut[DebiasMethod.Dfr]);
        Assert.Equal(DebiasMethodNames.All.Count - 3, methods.Count);

        options.Methods = [DebiasMethod.Erm];
        using var result = ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation);
        Assert.Equal(SelectionRegime.NoGroups, result.Regime);
        Assert.True(double.IsNaN(result.Chosen.ValidationWorstGroup));
        Assert.Equal(result.Chosen.ValidationWorstClass, result.Chosen.SelectionScore);
        Assert.InRange(result.Chosen.ValidationWorstClass, 0, 1);
    }

    [Fact]
    public void A_result_folder_resumes_without_training_again_and_a_cancelled_search_keeps_its_finished_trainings()
    {
        using var folder = new TempFolder("method-search");
        var options = Options(DebiasMethod.Erm, DebiasMethod.Jtt);
        options.ResultFolder = folder.Path;

        // Cancelled after the second training: both are kept.
        using var cancel = new CancellationTokenSource();
        var first = new List<MethodSearchProgress>();
        Assert.ThrowsAny<OperationCanceledException>(() => ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation,
            new SynchronousProgress<MethodSearchProgress>(p => { first.Add(p); if (p.Completed == 2) cancel.Cancel(); }), cancel.Token));
        Assert.Equal(2, first.Count);
        Assert.Equal(2, Directory.GetFiles(folder.Combine("runs"), "*.csv").Length);

        // Resumed: the two are read back, the rest trained.
        var second = new List<MethodSearchProgress>();
        using var resumed = ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation, new SynchronousProgress<MethodSearchProgress>(second.Add));
        Assert.Equal(5, second.Count);
        Assert.Equal([true, true, false, false, false], second.Select(p => p.Reused));
        Assert.Equal(first.Select(p => p.Trial), second.Take(2).Select(p => p.Trial), new TrialScores());

        // Run again: nothing is trained, the same choice; the chosen model is trained again from its seed and scores as its entry.
        var third = new List<MethodSearchProgress>();
        using var again = ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation, new SynchronousProgress<MethodSearchProgress>(third.Add));
        Assert.All(third, p => Assert.True(p.Reused));
        Assert.Equal(resumed.Chosen.Key, again.Chosen.Key);
        Assert.Equal(resumed.Leaderboard.Select(t => t.Key), again.Leaderboard.Select(t => t.Key));
        AssertSameScores(again.Chosen, again.Model);
        Assert.Empty(Directory.GetFiles(folder.Combine("runs"), ".*"));   // no claim or temporary file left
    }

    [Fact]
    public async Task Processes_sharing_a_result_folder_share_its_trainings_and_a_dead_processs_claim_is_taken_over()
    {
        using var folder = new TempFolder("method-search-shared");
        var options = Options(DebiasMethod.Erm, DebiasMethod.Jtt);
        options.DrawsPerMethod = 1;
        options.ResultFolder = folder.Path;
        var store = SearchTrialStore.Open(folder.Path);
        var jtt = new SearchTrialKey("search", "jtt", SelectionRegime.Groups, 0, 0);
        var claim = TrialClaim.PathOf(store.Folder, jtt);

        // Another process is training JTT's defaults (a live claim): this one trains ERM's, then waits for JTT's result.
        File.WriteAllText(claim, "another process");
        var reports = new System.Collections.Concurrent.ConcurrentQueue<MethodSearchProgress>();
        var running = Task.Run(() => ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation, new SynchronousProgress<MethodSearchProgress>(reports.Enqueue)));
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!reports.Any(r => r.Trial.Method == "erm") && DateTime.UtcNow < deadline && !running.IsCompleted) await Task.Delay(50);
        await Task.Delay(500);
        Assert.False(running.IsCompleted, "the search must wait for the training another process holds");
        Assert.DoesNotContain(reports, r => r.Trial.Method == "jtt");

        // The other process finishes (its result is the best, so the search chooses it, and trains the chosen model itself).
        store.Save(new SearchTrial("search", "jtt", SelectionRegime.Groups, 0, 0, "defaults", 1, 1, 1, double.NaN, double.NaN, double.NaN, 3));
        File.Delete(claim);
        using (var result = await running.WaitAsync(TimeSpan.FromMinutes(2)))
        {
            Assert.Equal(jtt, result.Chosen.Key);
            Assert.True(reports.Single(r => r.Trial.Key == jtt).Reused);
        }

        // A claim nobody has touched for longer than the heartbeat allows belongs to a dead process: taken over and trained.
        using var second = new TempFolder("method-search-stale");
        options.ResultFolder = second.Path;
        var stale = TrialClaim.PathOf(SearchTrialStore.Open(second.Path).Folder, jtt);
        File.WriteAllText(stale, "a dead process");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow - TrialClaim.StaleAfter - TimeSpan.FromMinutes(1));
        var again = new List<MethodSearchProgress>();
        using var taken = ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation, new SynchronousProgress<MethodSearchProgress>(again.Add));
        Assert.False(again.Single(r => r.Trial.Key == jtt).Reused);
        Assert.False(File.Exists(stale));
    }

    [Fact]
    public void The_report_has_the_choice_each_methods_best_draw_the_leaderboard_and_a_chart()
    {
        using var folder = new TempFolder("method-search-report");
        using var result = ml.MulticlassClassification.CreateMethodSearch(Options(DebiasMethod.Erm, DebiasMethod.Jtt)).Execute(train, validation);
        var path = result.WriteReport(folder.Path);
        var report = File.ReadAllText(path);
        Assert.Contains($"**Chosen: {result.Chosen.Method}, draw {result.Chosen.Draw}**", report);
        Assert.Contains("## Leaderboard", report);
        Assert.Equal(result.Leaderboard.Count, report.Split('\n').Count(l => l.StartsWith("| ", StringComparison.Ordinal) && (l.StartsWith("| seed ", StringComparison.Ordinal) || char.IsDigit(l[2]))));
        Assert.Equal(result.Leaderboard.Count + 1, File.ReadAllLines(folder.Combine("leaderboard.csv")).Length);
        var chart = new FileInfo(folder.Combine("worst-group.png"));
        Assert.True(chart.Length > 5000, $"chart of {chart.Length} bytes");
        Assert.Equal(result.Leaderboard, File.ReadAllLines(folder.Combine("leaderboard.csv")).Skip(1).Select(SearchTrial.FromCsv), new TrialScores());
    }

    [Fact]
    public void A_time_budget_becomes_a_number_of_draws_that_the_result_states()
    {
        var options = Options(DebiasMethod.Erm);
        options.TimeBudget = TimeSpan.FromMilliseconds(1);
        using var result = ml.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation);
        Assert.Equal(1, result.DrawsPerMethod);
        Assert.Contains("1 draw per method", result.BudgetNote);
        Assert.Equal(2, result.Leaderboard.Count);
    }

    [Fact]
    public void A_result_file_holds_every_score_exactly_so_the_choice_cannot_depend_on_which_process_trained_what()
    {
        // A score read back from a file must compare with one held in memory as the two did where they were trained: a
        // rounded 0.825243 would beat the 85/103 it came from, and a tie between two trainings could then go either way.
        var random = new Random(5);
        for (int i = 0; i < 1000; i++)
        {
            double Score() => random.Next(10) == 0 ? double.NaN : random.Next(1, 2000) / (double)random.Next(2000, 4000) + random.NextDouble() * 1e-9;
            var trial = new SearchTrial("s", "jtt", SelectionRegime.NoGroups, random.Next(8), random.Next(4), "T=2;upweight=5.5",
                Score(), Score(), Score(), Score(), Score(), Score(), Math.Round(random.NextDouble() * 100, 3));
            Assert.Equal(trial, SearchTrial.FromCsv(trial.ToCsv()));
        }
        var failed = new SearchTrial("s", "dfr", SelectionRegime.Groups, 1, 0, "lr=0.01" + SearchTrial.FailedMarker + "a group has no rows, say",
            double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0.5);
        Assert.Equal(failed, SearchTrial.FromCsv(failed.ToCsv()));
        Assert.Equal("a group has no rows, say", SearchTrial.FromCsv(failed.ToCsv()).FailureReason);
    }

    [Fact]
    public void Bad_options_and_data_are_named()
    {
        var catalog = ml.MulticlassClassification;
        var e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(new MethodSearchOptions { Selection = SelectionRegime.Groups }));
        Assert.Contains("GroupColumnName", e.Message);
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(new MethodSearchOptions { Methods = [] }));
        Assert.Contains("MethodSearchOptions.Methods", e.Message);
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(new MethodSearchOptions { Methods = [DebiasMethod.Dfr] }));
        Assert.Contains("HeldOutSet", e.Message);
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(new MethodSearchOptions { Seeds = [0, 1] }));
        Assert.Contains("Seeds", e.Message);
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(new MethodSearchOptions { DrawsPerMethod = 0 }));
        Assert.Contains("DrawsPerMethod", e.Message);
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(new MethodSearchOptions { Name = "a/b" }));
        Assert.Contains("Name", e.Message);

        // A validation set without a group the training rows have: worst-group accuracy cannot choose.
        var noDogIndoor = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(25, seed: 2).Where(r => r.Group != "dog/indoor"));
        var search = catalog.CreateMethodSearch(Options(DebiasMethod.Erm));
        e = Assert.Throws<ArgumentException>(() => search.Execute(train, noDogIndoor));
        Assert.Contains("'dog/indoor'", e.Message);
        Assert.Contains("'Group'", e.Message);

        // Columns that are not there.
        var options = Options(DebiasMethod.Erm);
        options.GroupColumnName = "Domain";
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(options).Execute(train, validation));
        Assert.Contains("'Domain'", e.Message);
        options = Options(DebiasMethod.Erm);
        options.FeatureColumnName = "Pixels";
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(options).Execute(train, validation));
        Assert.Contains("'Pixels'", e.Message);
        Assert.Contains("training", e.Message);

        // GroupDRO asked for without the training rows' groups.
        var trainWithoutGroups = ml.Transforms.DropColumns("Group").Fit(train).Transform(train);
        e = Assert.Throws<ArgumentException>(() => catalog.CreateMethodSearch(Options(DebiasMethod.GroupDro)).Execute(trainWithoutGroups, validation));
        Assert.Contains("GroupDRO", e.Message);
    }

    /// <summary>Trials equal in key and values, scores within a tolerance (result files print six significant digits).</summary>
    private sealed class TrialScores(double tolerance = 0) : IEqualityComparer<SearchTrial>
    {
        public bool Equals(SearchTrial? a, SearchTrial? b) => a is not null && b is not null && a.Key == b.Key && a.Values == b.Values
            && Close(a.ValidationWorstGroup, b.ValidationWorstGroup) && Close(a.ValidationWorstClass, b.ValidationWorstClass)
            && Close(a.TestWorstGroup, b.TestWorstGroup) && Close(a.TestAccuracy, b.TestAccuracy);

        public int GetHashCode(SearchTrial t) => t.Key.GetHashCode();

        private bool Close(double x, double y) => double.IsNaN(x) ? double.IsNaN(y) : Math.Abs(x - y) <= tolerance;
    }
}
