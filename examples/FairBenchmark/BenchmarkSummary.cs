using System.Globalization;
using System.Text;

using MLNet.FlatDebias.Search;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>One method on one set under one regime: the chosen draw and its seeds' test scores.</summary>
internal sealed record MethodSummary(string Set, string Role, SelectionRegime Regime, string Method, int ChosenDraw, string Values,
    int Seeds, double WorstGroupMean, double WorstGroupSpread, double WorstGroupWorstSeed, double AccuracyMean, double WorstClassMean,
    double DefaultsWorstGroupMean, double DefaultsWorstGroupSpread)
{
    public const string Header = "set,role,regime,method,chosen_draw,seeds,test_wga_mean,test_wga_sd,test_wga_worst_seed,test_acc_mean,test_worst_class_mean,defaults_test_wga_mean,defaults_test_wga_sd,values";

    public string ToCsv() => string.Join(",", Set, Role, Regime, Method, I(ChosenDraw), I(Seeds), F(WorstGroupMean), F(WorstGroupSpread), F(WorstGroupWorstSeed),
        F(AccuracyMean), F(WorstClassMean), F(DefaultsWorstGroupMean), F(DefaultsWorstGroupSpread), "\"" + Values + "\"");

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>Writes <c>runs.csv</c> (every finished run), <c>summary.csv</c>, <c>summary.md</c>, one chart per set,
/// <c>cost.csv</c> and <c>missing.txt</c>. The summary holds only what the runs' scores decide, so the same finished runs give
/// the same summary byte for byte, however many processes trained them; the seconds are in <c>cost.csv</c>.</summary>
internal static class BenchmarkSummary
{
    /// <summary>Merges the finished runs and writes every file.</summary>
    /// <returns>True when no planned run is missing.</returns>
    public static bool Summarize(BenchmarkSweep sweep, BenchmarkPlan plan, SearchTrialStore store, IReadOnlyList<string> choose, IReadOnlyList<string> report,
        string folder, TextWriter output)
    {
        var results = store.All();
        var sets = sweep.Sets.ToList();
        var methods = plan.Methods.ToList();
        int Order(string set) => sets.IndexOf(set) is var i and >= 0 ? i : int.MaxValue;
        var ordered = results.Values
            .OrderBy(r => Order(r.SearchName)).ThenBy(r => r.SearchName, StringComparer.Ordinal)
            .ThenBy(r => r.Regime).ThenBy(r => methods.IndexOf(r.Method)).ThenBy(r => r.Method, StringComparer.Ordinal)
            .ThenBy(r => r.Draw).ThenBy(r => r.Seed).ToList();
        File.WriteAllLines(Path.Combine(folder, "runs.csv"), [SearchTrial.Header, .. ordered.Select(r => r.ToCsv())], new UTF8Encoding(false));

        var missing = sweep.Missing(results);
        File.WriteAllLines(Path.Combine(folder, "missing.txt"), missing.Select(m => $"{m.Run}: {m.Reason}"), new UTF8Encoding(false));
        var inSweep = ordered.Where(r => sets.Contains(r.SearchName) && plan.Methods.Contains(r.Method)).ToList();
        WriteCost(inSweep, sets, plan, folder);

        var choices = choose.Count == 0 ? new Dictionary<string, DefaultsChoice>() : plan.RecommendWithReasons(inSweep, choose);
        Write(inSweep, plan, choose, report, choices, folder, output, missing.Count);
        int planned = sweep.Runs(BenchmarkStage.Draws).Count + sweep.Runs(BenchmarkStage.Seeds).Count;
        output.WriteLine(missing.Count == 0
            ? $"All {planned} planned runs have finished ({results.Count} trainings in {store.Folder})."
            : $"{missing.Count} of the {planned} planned runs are missing (listed in {Path.Combine(folder, "missing.txt")}), e.g. {missing[0].Run}: {missing[0].Reason}.");
        return missing.Count == 0;
    }

    /// <summary>Seconds per run and in all, per set and method (<c>cost.csv</c>): with runs.csv's seconds column, all that differs between two
    /// sweeps over the same runs.</summary>
    private static void WriteCost(IReadOnlyList<SearchTrial> runs, IReadOnlyList<string> sets, BenchmarkPlan plan, string folder)
    {
        var lines = new List<string> { "set,method,runs,seconds_per_run,seconds" };
        foreach (var set in sets)
            foreach (var method in plan.Methods)
            {
                var mine = runs.Where(r => r.SearchName == set && r.Method == method).ToList();
                if (mine.Count == 0) continue;
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"{set},{method},{mine.Count},{mine.Average(r => r.Seconds):F2},{mine.Sum(r => r.Seconds):F1}"));
            }
        File.WriteAllLines(Path.Combine(folder, "cost.csv"), lines, new UTF8Encoding(false));
    }

    private static void Write(IReadOnlyCollection<SearchTrial> runs, BenchmarkPlan plan, IReadOnlyList<string> choose, IReadOnlyList<string> report,
        IReadOnlyDictionary<string, DefaultsChoice> choices, string folder, TextWriter output, int missing)
    {
        var recommended = choices.ToDictionary(kv => kv.Key, kv => kv.Value.Draw);
        var summaries = new List<MethodSummary>();
        var md = new StringBuilder();
        if (missing > 0) md.AppendLine($"**Partial: {missing} planned runs have not finished (missing.txt); the tables below use the finished ones.**").AppendLine();
        md.AppendLine($"Draws per method and set: {plan.Draws} (draw 0 = the library's defaults), trained with seed 0; the chosen draw is re-run with seeds {string.Join(", ", plan.Seeds)}.");
        md.AppendLine("Selection: `Groups` = best validation worst-group accuracy; `NoGroups` = best validation worst-class accuracy, no group label anywhere (GroupDRO, DFR and DPE take the classes as groups).");
        md.AppendLine($"Choosing sets (their validation splits choose the library's defaults): {string.Join(", ", choose)}. Report-only sets (nothing is chosen on them): {string.Join(", ", report)}.");
        md.AppendLine("Test accuracy (%): mean ± standard deviation over the seeds, and the worst seed.");
        foreach (var set in choose.Concat(report))
        {
            string role = choose.Contains(set) ? "choose" : "report";
            foreach (var regime in Enum.GetValues<SelectionRegime>())
            {
                var rows = new List<MethodSummary>();
                foreach (var method in plan.Methods)
                {
                    var mine = runs.Where(r => r.SearchName == set && r.Method == method && r.Regime == regime).ToList();
                    var tried = mine.Where(r => r.Seed == 0 && r.Draw < plan.Draws).ToList();
                    if (tried.Count < plan.Draws) continue;
                    int chosen = BenchmarkPlan.Choose(tried);
                    var seeds = mine.Where(r => r.Draw == chosen && plan.Seeds.Contains(r.Seed)).ToList();
                    var defaults = mine.Where(r => r.Draw == 0 && plan.Seeds.Contains(r.Seed)).ToList();
                    if (seeds.Count == 0) continue;
                    rows.Add(new MethodSummary(set, role, regime, method, chosen, tried.First(r => r.Draw == chosen).Values, seeds.Count,
                        seeds.Average(r => r.TestWorstGroup), SeedSpread.Of(seeds.Select(r => r.TestWorstGroup)).StandardDeviation, seeds.Min(r => r.TestWorstGroup),
                        seeds.Average(r => r.TestAccuracy), seeds.Average(r => r.TestWorstClass),
                        defaults.Count == 0 ? double.NaN : defaults.Average(r => r.TestWorstGroup), SeedSpread.Of(defaults.Select(r => r.TestWorstGroup)).StandardDeviation));
                }
                if (rows.Count == 0) continue;
                summaries.AddRange(rows);
                md.AppendLine();
                md.AppendLine($"### {set} ({(role == "choose" ? "choosing set" : "report-only set")}), selection {regime}");
                md.AppendLine();
                md.AppendLine("| method | chosen draw | worst group | worst group, worst seed | average | worst class | defaults' worst group |");
                md.AppendLine("|---|---|---|---|---|---|---|");
                foreach (var r in rows)
                    md.AppendLine($"| {r.Method} | {r.ChosenDraw} | {P(r.WorstGroupMean)} ± {P(r.WorstGroupSpread)} | {P(r.WorstGroupWorstSeed)} | {P(r.AccuracyMean)} | {P(r.WorstClassMean)} | {P(r.DefaultsWorstGroupMean)} ± {P(r.DefaultsWorstGroupSpread)} |");
            }
            Chart(Path.Combine(folder, $"wga-{set}.png"), set, summaries.Where(s => s.Set == set).ToList(), plan.Methods);
        }

        if (choose.Count == 0 || report.Count == 0)
        {
            md.AppendLine();
            md.AppendLine("(No choosing sets or no report-only sets in this run: no defaults were chosen.)");
            Save(summaries, md, folder, output);
            return;
        }
        md.AppendLine();
        md.AppendLine("### Defaults chosen on the choosing sets, reported on the report-only sets");
        md.AppendLine();
        md.AppendLine("Per method, the draw whose validation worst-group accuracy (seed 0) on its worst choosing set is best (ties: the best mean over the choosing sets), run with the seeds on each report-only set (selection `Groups` for the epoch). Its worst choosing set and score are listed, and the choosing sets on which the method's draws scored differently at all (a set where every draw scores the same cannot choose).");
        md.AppendLine();
        md.AppendLine($"| method | draw | values | worst choosing set | mean over choosing sets | sets that told its draws apart | {string.Join(" | ", report)} |");
        md.AppendLine($"|---|---|---|---|---|---|{string.Concat(report.Select(_ => "---|"))}");
        foreach (var method in plan.Methods)
        {
            int draw = recommended.GetValueOrDefault(method);
            var choice = choices.GetValueOrDefault(method);
            var cells = report.Select(set =>
            {
                var seeds = runs.Where(r => r.SearchName == set && r.Method == method && r.Regime == SelectionRegime.Groups && r.Draw == draw && plan.Seeds.Contains(r.Seed)).ToList();
                return seeds.Count == 0 ? "-" : $"{P(seeds.Average(r => r.TestWorstGroup))} ± {P(SeedSpread.Of(seeds.Select(r => r.TestWorstGroup)).StandardDeviation)}";
            });
            string worst = choice is null || choice.WorstSet.Length == 0 ? "-" : $"{choice.WorstSet} {P(choice.WorstScore)}";
            string mean = choice is null ? "-" : P(choice.MeanScore);
            string informative = choice is null ? "-" : choice.InformativeSets.Count == 0 ? "none" : string.Join(", ", choice.InformativeSets);
            md.AppendLine($"| {method} | {draw} | {BenchmarkPlan.Describe(plan.Values(method, draw))} | {worst} | {mean} | {informative} | {string.Join(" | ", cells)} |");
        }

        // The ranking the README states: the methods that train without group labels, on the sets nobody chose on.
        var labelFree = plan.Methods.Where(m => BenchmarkMethods.TrainsWithoutGroupLabels(m)).ToList();
        md.AppendLine();
        md.AppendLine("### Label-free methods on the report-only sets");
        md.AppendLine();
        md.AppendLine("Methods that train without group labels, ranked by mean test worst-group accuracy (%) over the seeds: with the protocol's defaults (chosen on the choosing sets; validation groups choose the epoch), and with each method tuned on the set's own validation split with no group label anywhere (`NoGroups`).");
        md.AppendLine();
        foreach (var set in report)
        {
            string Rank(Func<string, double> score) => string.Join(", ", labelFree.Select(m => (Method: m, Score: score(m)))
                .Where(x => !double.IsNaN(x.Score)).OrderByDescending(x => x.Score).ThenBy(x => x.Method, StringComparer.Ordinal)
                .Select(x => $"{x.Method} {P(x.Score)}"));
            double Defaults(string method)
            {
                var seeds = runs.Where(r => r.SearchName == set && r.Method == method && r.Regime == SelectionRegime.Groups
                    && r.Draw == recommended.GetValueOrDefault(method) && plan.Seeds.Contains(r.Seed)).ToList();
                return seeds.Count == 0 ? double.NaN : seeds.Average(r => r.TestWorstGroup);
            }
            double NoGroups(string method)
                => summaries.FirstOrDefault(x => x.Set == set && x.Method == method && x.Regime == SelectionRegime.NoGroups)?.WorstGroupMean ?? double.NaN;
            md.AppendLine($"- `{set}`, protocol's defaults: {Rank(Defaults)}");
            md.AppendLine($"- `{set}`, tuned with no group label: {Rank(NoGroups)}");
        }

        Save(summaries, md, folder, output);
    }

    private static void Save(List<MethodSummary> summaries, StringBuilder md, string folder, TextWriter output)
    {
        File.WriteAllLines(Path.Combine(folder, "summary.csv"), [MethodSummary.Header, .. summaries.Select(s => s.ToCsv())], new UTF8Encoding(false));
        File.WriteAllText(Path.Combine(folder, "summary.md"), md.ToString(), new UTF8Encoding(false));
        output.WriteLine(md.ToString());
    }

    private static string P(double v) => double.IsNaN(v) ? "-" : (100 * v).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>Test worst-group accuracy per method, one bar per regime, the seeds' standard deviation as the error bar.</summary>
    private static void Chart(string path, string set, IReadOnlyList<MethodSummary> rows, IReadOnlyList<string> methods)
    {
        var names = methods.Where(m => rows.Any(r => r.Method == m)).ToList();
        var series = Enum.GetValues<SelectionRegime>().Select(regime =>
        {
            var mine = names.Select(name => rows.FirstOrDefault(r => r.Method == name && r.Regime == regime)).ToList();
            return new ChartSeries(regime == SelectionRegime.Groups ? "selected on validation groups" : "no group labels (worst class)",
                [.. mine.Select(r => r?.WorstGroupMean ?? double.NaN)], [.. mine.Select(r => r?.WorstGroupSpread ?? double.NaN)]);
        }).ToList();
        Charts.HorizontalBars(path, $"{set}: test worst-group accuracy (chosen draw, mean ± sd over seeds)", "worst-group accuracy", names, series);
    }
}
