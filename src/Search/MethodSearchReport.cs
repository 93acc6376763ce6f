using System.Globalization;
using System.Text;
using ScottPlot;

namespace MLNet.FlatDebias.Search;

/// <summary>Writes a search's <c>report.md</c>, <c>leaderboard.csv</c> and chart (ScottPlot, the charting library of
/// every chart in this repository).</summary>
internal static class MethodSearchReport
{
    public const string ReportFile = "report.md";
    public const string LeaderboardFile = "leaderboard.csv";
    public const string ChartFile = "worst-group.png";

    public static string Write(MethodSearchResult result, string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, LeaderboardFile), [SearchTrial.Header, .. result.Leaderboard.Select(t => t.ToCsv())], new UTF8Encoding(false));
        Chart(result, Path.Combine(folder, ChartFile));
        var path = Path.Combine(folder, ReportFile);
        File.WriteAllText(path, Markdown(result), new UTF8Encoding(false));
        return path;
    }

    private static string ScoreName(MethodSearchResult r) => r.Regime == SelectionRegime.Groups ? "worst-group" : "worst-class";

    public static string Markdown(MethodSearchResult r)
    {
        var md = new StringBuilder();
        var c = r.Chosen;
        md.AppendLine("# Method search").AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"**Chosen: {c.Method}, draw {c.Draw}** ({c.Values}): validation {ScoreName(r)} accuracy {P(c.SelectionScore)} % with seed 0."));
        md.AppendLine();
        md.AppendLine($"Its re-runs with seeds {string.Join(", ", r.ChosenSeeds.Select(t => t.Seed))}: validation {ScoreName(r)} accuracy {r.ChosenValidation}"
            + (r.HasTestScores ? $"; test {(r.Regime == SelectionRegime.Groups || r.ChosenSeeds.All(t => !double.IsNaN(t.TestWorstGroup)) ? "worst-group" : "worst-class")} accuracy {r.ChosenTest}." : "."));
        md.AppendLine();
        md.AppendLine($"Protocol: {r.Methods.Count} methods, {r.DrawsPerMethod} draw{(r.DrawsPerMethod == 1 ? "" : "s")} each (draw 0 = the library's defaults, the others from the method's search space), "
            + $"each trained with seed 0; chosen by validation {ScoreName(r)} accuracy ({(r.Regime == SelectionRegime.Groups ? "validation group labels" : "no group labels anywhere")}); "
            + "ties go to the earlier method, then the lower draw." + (r.BudgetNote.Length > 0 ? $" {Cap(r.BudgetNote)}." : ""));
        foreach (var (method, why) in r.LeftOutMethods) md.AppendLine().Append($"Not tried: {DebiasMethodNames.Name(method)} ({why}).");
        if (r.LeftOutMethods.Count > 0) md.AppendLine();
        foreach (var note in r.Notes) md.AppendLine().AppendLine($"Note: {note}");
        md.AppendLine();
        md.AppendLine("## Each method's best draw").AppendLine();
        md.AppendLine($"![validation and test score per method]({ChartFile})").AppendLine();
        md.AppendLine($"| method | draw | values | validation {ScoreName(r)} | validation worst class | validation accuracy | test worst group | test accuracy | seconds |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var t in r.BestPerMethod())
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(t.Key == c.Key ? $"**{t.Method}** (chosen)" : t.Method)} | {t.Draw} | {t.Values} | {P(t.SelectionScore)} | {P(t.ValidationWorstClass)} | {P(t.ValidationAccuracy)} | {P(t.TestWorstGroup)} | {P(t.TestAccuracy)} | {t.Seconds:F1} |"));
        md.AppendLine();
        md.AppendLine("## Leaderboard").AppendLine();
        md.AppendLine("Every training, best first (accuracies in %; a failed training has no score and says why), then the chosen draw's seeds.").AppendLine();
        md.Append(Leaderboard(r));
        return md.ToString();
    }

    public static string Leaderboard(MethodSearchResult r)
    {
        var md = new StringBuilder();
        md.AppendLine("| rank | method | draw | seed | validation worst group | validation worst class | validation accuracy | test worst group | test accuracy | seconds | values |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        int rank = 0;
        foreach (var t in r.Leaderboard)
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {(t.Seed == 0 ? (++rank).ToString(CultureInfo.InvariantCulture) : "seed")} | {t.Method}{(t.Key == r.Chosen.Key ? " (chosen)" : "")} | {t.Draw} | {t.Seed} | {P(t.ValidationWorstGroup)} | {P(t.ValidationWorstClass)} | {P(t.ValidationAccuracy)} | {P(t.TestWorstGroup)} | {P(t.TestAccuracy)} | {t.Seconds:F1} | {t.Values} |"));
        return md.ToString();
    }

    private static string Cap(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];

    private static string P(double v) => double.IsNaN(v) ? "-" : (100 * v).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>Horizontal bars, one row per method (its best draw): the validation selection score and, with a test set,
    /// the test worst-group accuracy; the chosen method's row is named "(chosen)".</summary>
    private static void Chart(MethodSearchResult r, string path)
    {
        var best = r.BestPerMethod();
        var labels = best.Select(t => t.Key == r.Chosen.Key ? $"{t.Method} (chosen)" : t.Method).ToList();
        var series = new List<(string Name, Func<SearchTrial, double> Value, Color Color)>
        {
            ($"validation {ScoreName(r)} accuracy", t => t.SelectionScore, Color.FromHex("#0072B2")),
        };
        if (r.HasTestScores) series.Add(("test worst-group accuracy", t => t.TestWorstGroup, Color.FromHex("#E69F00")));
        using var plot = new Plot();
        // DejaVu Sans where installed: ScottPlot's own sans-serif choice is a serif face on some Linux machines.
        string font = Fonts.GetTypeface("DejaVu Sans", bold: false, italic: false) is { FamilyName: "DejaVu Sans" } ? "DejaVu Sans" : Fonts.Sans;
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Title($"Method search: each method's best draw (chosen: {r.Chosen.Method}, draw {r.Chosen.Draw})", 16);
        plot.XLabel("accuracy", 13);
        double slot = 0.8 / series.Count;
        double Row(int i) => best.Count - 1 - i;
        for (int s = 0; s < series.Count; s++)
        {
            var bars = new List<Bar>();
            for (int i = 0; i < best.Count; i++)
            {
                double v = series[s].Value(best[i]);
                if (double.IsNaN(v)) continue;
                bars.Add(new Bar
                {
                    Position = Row(i) + 0.4 - slot * (s + 0.5), Value = v, Size = slot * 0.94, FillColor = series[s].Color,
                    LineWidth = best[i].Key == r.Chosen.Key ? 2.5f : 0, LineColor = Colors.Black,
                });
            }
            plot.Add.Bars(bars).Horizontal = true;
            foreach (var bar in bars)
            {
                var text = plot.Add.Text(bar.Value.ToString("F2", CultureInfo.InvariantCulture), bar.Value, bar.Position);
                text.LabelFontSize = 11;
                text.LabelFontName = font;
                text.LabelAlignment = Alignment.MiddleLeft;
                text.LabelOffsetX = 4;
            }
        }
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, best.Count).Select(Row)], [.. labels]);
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(0.1);
        foreach (var label in new[] { plot.Axes.Title.Label, plot.Axes.Bottom.Label, plot.Axes.Bottom.TickLabelStyle, plot.Axes.Left.TickLabelStyle })
            label.FontName = font;
        plot.Legend.FontName = font;
        plot.Grid.YAxisStyle.IsVisible = false;
        plot.Axes.SetLimits(0, 1.08, -0.55, best.Count - 0.45);
        plot.Legend.IsVisible = true;
        plot.Legend.Alignment = Alignment.LowerRight;
        foreach (var (name, _, color) in series) plot.Legend.ManualItems.Add(new LegendItem { LabelText = name, FillColor = color });
        plot.SavePng(path, 900, 150 + 55 * Math.Max(1, best.Count));
    }
}
