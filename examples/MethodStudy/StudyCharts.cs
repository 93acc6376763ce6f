using System.Globalization;

namespace MLNet.FlatDebias.Examples.MethodStudy;

/// <summary>The study's pictures: test worst-group accuracy (and unbiased accuracy) per variant with every seed, and
/// the mean trace of minority and majority training rows over epochs.</summary>
internal static class StudyCharts
{
    /// <summary>Variants whose trace curves are drawn, when present.</summary>
    private static readonly string[] TraceVariants = ["D", "sec6", "paper-head"];

    public static void Write(IReadOnlyList<RunResult> runs, string folder)
    {
        foreach (var set in runs.Select(r => r.Set).Distinct())
        {
            var setRuns = runs.Where(r => r.Set == set).ToList();
            var variants = setRuns.Select(r => r.Variant).Distinct().ToList();
            var seeds = setRuns.Select(r => r.Seed).Distinct().Order().ToList();
            ChartSeries Series(int seed, Func<RunResult, double> metric) => new($"seed {seed}",
                variants.Select(v => setRuns.FirstOrDefault(r => r.Variant == v && r.Seed == seed) is { } r ? metric(r) : double.NaN).ToList());
            Charts.Bars(Path.Combine(folder, $"wga-{set}.png"), $"{set}: test worst-group accuracy per variant (one bar per seed)",
                "worst-group accuracy", variants, seeds.Select(s => Series(s, r => r.TestWorstGroup)).ToList());
            Charts.Bars(Path.Combine(folder, $"average-{set}.png"), $"{set}: test average accuracy per variant (one bar per seed)",
                "average accuracy", variants, seeds.Select(s => Series(s, r => r.TestAverage)).ToList());

            var lines = new List<ChartLine>();
            foreach (var variant in TraceVariants)
            {
                var run = setRuns.Where(r => r.Variant == variant).OrderBy(r => r.Seed).FirstOrDefault();
                if (run is null || run.GroupTracesByEpoch.Length == 0) continue;
                var epochs = run.GroupTracesByEpoch.Split(';');
                var x = Enumerable.Range(1, epochs.Length).Select(e => (double)e).ToList();
                double Log(string v) => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 ? Math.Log10(d) : double.NaN;
                lines.Add(new ChartLine($"{variant} minority", x, epochs.Select(e => Log(e.Split(':')[0])).ToList()));
                lines.Add(new ChartLine($"{variant} majority", x, epochs.Select(e => Log(e.Split(':')[1])).ToList()));
            }
            if (lines.Count == 0) continue;
            var values = lines.SelectMany(l => l.Y).Where(double.IsFinite).ToList();
            Charts.Lines(Path.Combine(folder, $"traces-{set}.png"), $"{set}: mean per-sample trace of training rows, minority vs majority (seed {seeds[0]})",
                "epoch", "log10 mean trace", lines, Math.Floor(values.Min()), Math.Ceiling(values.Max()));
        }
    }
}
