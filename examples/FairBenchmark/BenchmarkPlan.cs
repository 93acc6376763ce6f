using System.Globalization;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>What is drawn and how a draw is chosen: the same number of draws for every method; draw 0 is the library's
/// defaults (no values set), draws 1 and up come from the method's search space.</summary>
internal sealed class BenchmarkPlan(IReadOnlyList<string> methods, IReadOnlyDictionary<string, SearchSpace> spaces, int draws, IReadOnlyList<int> seeds)
{
    public IReadOnlyList<string> Methods => methods;

    public int Draws => draws;

    public IReadOnlyList<int> Seeds => seeds;

    /// <summary>The values of a draw (empty for draw 0: every option at the library's default).</summary>
    public IReadOnlyDictionary<string, double> Values(string method, int draw)
        => draw == 0 ? new Dictionary<string, double>() : spaces[method].Sample(draw);

    /// <summary>A draw's values as text, e.g. <c>lr=0.00123;wd=1.2e-05</c> (<c>defaults</c> for draw 0).</summary>
    public static string Describe(IReadOnlyDictionary<string, double> values)
        => values.Count == 0 ? "defaults" : string.Join(";", values.Select(v => $"{v.Key}={v.Value.ToString("G3", CultureInfo.InvariantCulture)}"));

    /// <summary>The draw with the best validation score by the runs' regime (seed 0 runs); the lowest draw on a tie, and a
    /// draw whose score is missing (NaN) never wins over one that has a score.</summary>
    public static int Choose(IReadOnlyList<BenchmarkRun> draws)
        => draws.OrderByDescending(r => double.IsNaN(r.SelectionScore) ? double.NegativeInfinity : r.SelectionScore).ThenBy(r => r.Draw).First().Draw;

    /// <summary>Per method, the draw with the best mean validation worst-group accuracy over <paramref name="choosingSets"/>
    /// (seed 0, groups regime): the defaults the library should have by this protocol.</summary>
    public IReadOnlyDictionary<string, int> Recommend(IEnumerable<BenchmarkRun> runs, IReadOnlyList<string> choosingSets)
    {
        var seedZero = runs.Where(r => r.Seed == 0 && r.Regime == SelectionRegime.Groups && choosingSets.Contains(r.Set) && r.Draw < draws).ToList();
        return methods.ToDictionary(m => m, m =>
        {
            var byDraw = seedZero.Where(r => r.Method == m).GroupBy(r => r.Draw)
                .Where(g => g.Select(r => r.Set).Distinct().Count() == choosingSets.Count)
                .Select(g => (Draw: g.Key, Score: g.Average(r => double.IsNaN(r.ValidationWorstGroup) ? 0 : r.ValidationWorstGroup)))
                .OrderByDescending(d => d.Score).ThenBy(d => d.Draw).ToList();
            return byDraw.Count == 0 ? 0 : byDraw[0].Draw;
        });
    }
}
