using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Examples.MethodStudy;

/// <summary>Mean and spread over seeds of every (set, variant), as CSV and Markdown.</summary>
internal static class Summary
{
    public static void Write(IReadOnlyList<RunResult> runs, string folder, TextWriter output)
    {
        var csv = new StringBuilder("set,variant,seeds,test_avg_mean,test_avg_std,test_wga_mean,test_wga_std,test_wga_min,val_wga_mean,s_per_epoch,spec\n");
        var md = new StringBuilder();
        foreach (var set in runs.Select(r => r.Set).Distinct())
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"### {set}").AppendLine();
            md.AppendLine("| variant | seeds | test average | test worst-group | worst seed | val worst-group | s/epoch |");
            md.AppendLine("|---|---|---|---|---|---|---|");
            var rows = runs.Where(r => r.Set == set).GroupBy(r => r.Variant)
                .Select(g => (Variant: g.Key, Runs: g.ToList()))
                .OrderByDescending(g => g.Runs.Average(r => r.TestWorstGroup));
            foreach (var (variant, group) in rows)
            {
                var avg = Stats(group.Select(r => r.TestAverage));
                var wga = Stats(group.Select(r => r.TestWorstGroup));
                double worst = group.Min(r => r.TestWorstGroup);
                double val = group.Average(r => r.ValidationWorstGroup);
                double cost = group.Average(r => r.SecondsPerEpoch);
                csv.AppendLine(string.Join(",", set, variant, group.Count, F(avg.Mean), F(avg.Std), F(wga.Mean), F(wga.Std), F(worst), F(val), F(cost), "\"" + group[0].Spec + "\""));
                md.AppendLine(CultureInfo.InvariantCulture,
                    $"| {variant} | {group.Count} | {100 * avg.Mean:F1} ± {100 * avg.Std:F1} | {100 * wga.Mean:F1} ± {100 * wga.Std:F1} | {100 * worst:F1} | {100 * val:F1} | {cost:F1} |");
            }
            md.AppendLine();
        }
        File.WriteAllText(Path.Combine(folder, "summary.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(folder, "summary.md"), md.ToString());
        output.WriteLine();
        output.Write(md.ToString());
    }

    /// <summary>Mean and sample standard deviation (0 for one value).</summary>
    public static (double Mean, double Std) Stats(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        double std = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return (mean, std);
    }

    private static string F(double v) => v.ToString("G5", CultureInfo.InvariantCulture);
}
