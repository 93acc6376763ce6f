using System.Diagnostics;
using System.Globalization;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>The results file of <c>--fine-tune</c>.</summary>
public sealed record FineTuneResults
{
    /// <summary><c>waterbirds</c> or <c>waterbirds-mnist</c>.</summary>
    public required string Dataset { get; init; }

    /// <summary>The dataset folder.</summary>
    public required string DataFolder { get; init; }

    /// <summary>The settings.</summary>
    public required WaterbirdsSettings Settings { get; init; }

    /// <summary>Row counts.</summary>
    public required DatasetSummary Data { get; init; }

    /// <summary>One entry per method (FlatDebias paper-exact: the run its bound search kept).</summary>
    public required IReadOnlyList<FineTuneUnit> Methods { get; init; }

    /// <summary>FlatDebias paper-exact, one run per quantile.</summary>
    public required IReadOnlyList<FineTuneUnit> PaperExactSearch { get; init; }

    /// <summary>The paper's traces before fine-tuning, after its first epoch, and after a first epoch from scratch.</summary>
    public required IReadOnlyList<PaperTraceStatistics> StartTraces { get; init; }

    /// <summary>The paper's Table 1.</summary>
    public required IReadOnlyList<PaperRow> Paper { get; init; }

    /// <summary>Files written to the output folder.</summary>
    public required IReadOnlyList<string> Files { get; init; }

    /// <summary>Wall-clock seconds of this process.</summary>
    public required double Seconds { get; init; }
}

/// <summary>Prints and writes what <see cref="FineTuneExperiment"/> measured.</summary>
internal static class FineTuneReport
{
    public static FineTuneResults Write(WaterbirdsSettings settings, TrainingConsole console, string folder, DatasetSummary data,
        IReadOnlyList<FineTuneUnit> methods, IReadOnlyList<FineTuneUnit> search, IReadOnlyList<PaperTraceStatistics> start, Stopwatch clock)
    {
        var files = new List<string>();
        var erm = methods.First(m => m.Method == "ERM");
        double ermEpoch = erm.EpochSeconds.Average();
        string Label(FineTuneUnit u) => u.Method + (u.Quantile is double q ? $" (q={Format.Setting(q)})" : "");
        string Paper(string method, Func<PaperRow, double> value)
            => WaterbirdsExample.PaperTable.FirstOrDefault(p => p.Method == method) is { } row ? value(row).ToString("F2", CultureInfo.InvariantCulture) : "";
        string F(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "";

        console.Line();
        console.Line($"Fine-tuning table: test accuracy (%), each method at its best validation worst-group epoch; seed {settings.Seed}, {settings.ImageSize} px, {settings.Epochs} epochs.");
        console.Line($"The paper's numbers fine-tune a ResNet-50 on real Waterbirds{(settings.RealData ? "" : "; this run is the MNIST-built set, so compare the pattern, not the values")}.");
        console.Line(TextTable.Render(["method", "epoch", "val worst group", "average", "adjusted average", "worst group", "s/epoch", "cost vs ERM", "paper worst group"],
            [.. methods.Select(u => (IReadOnlyList<string>)[Label(u), Format.Count(u.SelectedEpoch), Format.Percent(u.ValidationWorstGroupAccuracy),
                Format.Percent(u.TestAverageAccuracy), Format.Percent(u.TestAdjustedAverageAccuracy), Format.Percent(u.TestWorstGroupAccuracy),
                F(u.EpochSeconds.Average(), "F1"), F(u.EpochSeconds.Average() / ermEpoch, "F2") + "x",
                Paper(u.Method.StartsWith("FlatDebias", StringComparison.Ordinal) ? "FlatDebias" : u.Method, p => p.WorstGroup)])]));
        console.Line("cost vs ERM: mean seconds per epoch (training and validation) over ERM's; JTT's epochs include its first stage.");
        console.Line();
        if (search.Count > 1)
        {
            console.Line("FlatDebias paper-exact bound search (validation only; the best worst group is kept, the first on a tie):");
            console.Line(TextTable.Render(["quantile", "epsilon", "selected epoch", "val worst group", "test worst group"],
                [.. search.Select(u => (IReadOnlyList<string>)[Format.Setting(u.Quantile ?? double.NaN), Format.Number(u.TraceBound), Format.Count(u.SelectedEpoch),
                    Format.Percent(u.ValidationWorstGroupAccuracy), Format.Percent(u.TestWorstGroupAccuracy)])]));
            console.Line();
        }

        var rows = start.Concat(methods.Select(m => m.SelectedTraces)).ToList();
        console.Line($"The paper's trace (full network, exact estimator) of {rows[0].MajorityRows} majority and {rows[0].MinorityRows} minority training rows; high-trace: above the {Format.Setting(FineTuneExperiment.HighTraceQuantile)} quantile of these rows:");
        console.Line(TraceTable(rows));
        // Every paper-exact run: the bound search's and the one with multipliers in units of the bound.
        var traced = search.Concat(methods.Where(m => m.Method == FineTuneExperiment.PaperExactRelative)).Where(r => r.TrainingTraces.Count > 0).ToList();
        foreach (var run in traced)
        {
            console.Line($"{run.Method} q={Format.Setting(run.Quantile ?? double.NaN)}: every training row's trace as the steps measured it (epoch 0: the traces that set the bound), and the multipliers:");
            console.Line(TextTable.Render(["epoch", "minority median", "majority median", "ratio", "minority above quantile (%)", "high-trace rows that are minority (%)", "minority mean lambda", "majority mean lambda", "minority weight share (%)", "rows at cap (%)"],
                [.. run.TrainingTraces.Select(t =>
                {
                    var m = run.Multipliers.FirstOrDefault(x => x.Epoch == t.Epoch);
                    return (IReadOnlyList<string>)[Format.Count(t.Epoch), F(t.Traces.MinorityMedian, "G3"), F(t.Traces.MajorityMedian, "G3"), F(t.Traces.MedianRatio, "G3"),
                        Format.Percent(t.Traces.MinorityRecall), Format.Percent(t.Traces.MinorityPrecision),
                        m is null ? "" : F(m.MinorityMean, "G3"), m is null ? "" : F(m.MajorityMean, "G3"), m is null ? "" : Format.Percent(m.MinorityWeightShare), m is null ? "" : Format.Percent(m.ShareAtCap)];
                })]));
        }
        console.Line();

        Charts.Lines(Path.Combine(settings.OutputFolder, "validation-worst-group.png"), "Fine-tuning: validation worst-group accuracy by epoch", "epoch", "worst-group accuracy",
            [.. methods.Select(u => new ChartLine(Label(u), [.. Enumerable.Range(1, u.ValidationWorstGroupByEpoch.Count).Select(e => (double)e)], u.ValidationWorstGroupByEpoch, u.SelectedEpoch - 1))]);
        files.Add("validation-worst-group.png");
        if (traced.Count > 0)
        {
            double chance = 1 - FineTuneExperiment.HighTraceQuantile;
            var lines = traced.Select(r => new ChartLine($"{(r.Method == FineTuneExperiment.PaperExactRelative ? "relative, " : "")}q={Format.Setting(r.Quantile ?? double.NaN)}: minority rows above the {Format.Setting(FineTuneExperiment.HighTraceQuantile)} quantile",
                [.. r.TrainingTraces.Select(t => (double)t.Epoch)], [.. r.TrainingTraces.Select(t => t.Traces.MinorityRecall)])).ToList();
            int last = traced.Max(r => r.TrainingTraces[^1].Epoch);
            lines.Add(new ChartLine("a trace unrelated to the groups", [0, last], [chance, chance]));
            Charts.Lines(Path.Combine(settings.OutputFolder, "traces.png"), "FlatDebias paper-exact: do the paper's high-trace rows fall in the rare groups?", "epoch (0: the bound's traces)", "share of minority rows", lines);
            files.Add("traces.png");
        }
        files.Add(WaterbirdsExample.ResultsFile);
        var results = new FineTuneResults
        {
            Dataset = settings.RealData ? "waterbirds" : "waterbirds-mnist",
            DataFolder = folder,
            Settings = settings,
            Data = data,
            Methods = methods,
            PaperExactSearch = search,
            StartTraces = start,
            Paper = WaterbirdsExample.PaperTable,
            Files = files,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        ExperimentFiles.WriteJson(Path.Combine(settings.OutputFolder, WaterbirdsExample.ResultsFile), results);
        console.Line(string.Create(CultureInfo.InvariantCulture, $"Wrote {string.Join(", ", files)} and runs/ to {settings.OutputFolder} ({clock.Elapsed.TotalMinutes:F1} min in this process)."));
        return results;
    }

    private static string TraceTable(IReadOnlyList<PaperTraceStatistics> rows)
    {
        static string F(double v) => double.IsFinite(v) ? v.ToString("G3", CultureInfo.InvariantCulture) : "";
        return TextTable.Render(["model", "minority median", "majority median", "ratio", "minority above quantile (%)", "high-trace rows that are minority (%)"],
            [.. rows.Select(r => (IReadOnlyList<string>)[r.Model, F(r.MinorityMedian), F(r.MajorityMedian), F(r.MedianRatio), Format.Percent(r.MinorityRecall), Format.Percent(r.MinorityPrecision)])]);
    }
}
