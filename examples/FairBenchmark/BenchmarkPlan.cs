using MLNet.FlatDebias.Search;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>What is drawn and how a draw is chosen: the same number of draws for every method; draw 0 is the library's
/// defaults (no values set), draws 1 and up come from the method's search space.</summary>
internal sealed class BenchmarkPlan(IReadOnlyList<string> methods, IReadOnlyDictionary<string, SearchSpace> spaces, int draws, IReadOnlyList<int> seeds)
{
    public IReadOnlyList<string> Methods => methods;

    public int Draws => draws;

    public IReadOnlyList<int> Seeds => seeds;

    /// <summary>The search spaces by method.</summary>
    public IReadOnlyDictionary<string, SearchSpace> Spaces => spaces;

    /// <summary>The values of a draw (empty for draw 0: every option at the library's default).</summary>
    public IReadOnlyDictionary<string, double> Values(string method, int draw) => spaces[method].Sample(draw);

    /// <summary>A draw's values as text (<see cref="SearchSpace.Describe"/>).</summary>
    public static string Describe(IReadOnlyDictionary<string, double> values) => SearchSpace.Describe(values);

    /// <summary>The draw the library's rule chooses (<see cref="SearchRule.ChooseDraw"/>): the best validation score by the
    /// runs' regime (seed 0 runs), the lowest draw on a tie; a missing score (NaN) never wins over a score.</summary>
    public static int Choose(IReadOnlyList<SearchTrial> draws) => SearchRule.ChooseDraw(draws);

    /// <summary>Per method, the protocol's default (<see cref="RecommendWithReasons"/>): the draw whose worst validation
    /// worst-group accuracy over <paramref name="choosingSets"/> is best.</summary>
    public IReadOnlyDictionary<string, int> Recommend(IEnumerable<SearchTrial> runs, IReadOnlyList<string> choosingSets)
        => RecommendWithReasons(runs, choosingSets).ToDictionary(kv => kv.Key, kv => kv.Value.Draw);

    /// <summary>Per method, the protocol's default by the robust rule: for each draw with a seed-0 run (groups regime) on every
    /// choosing set, its validation worst-group accuracy on its worst choosing set; the draw with the best such worst case
    /// wins, ties broken by the mean over the choosing sets, then by the lowest draw (a missing score counts as 0). So a
    /// default must hold up on every choosing set, not win on one and fail on another. Also says on which choosing sets the
    /// method's draws scored differently at all: a set where every draw scores the same cannot choose.</summary>
    public IReadOnlyDictionary<string, DefaultsChoice> RecommendWithReasons(IEnumerable<SearchTrial> runs, IReadOnlyList<string> choosingSets)
    {
        var seedZero = runs.Where(r => r.Seed == 0 && r.Regime == SelectionRegime.Groups && choosingSets.Contains(r.SearchName) && r.Draw < draws).ToList();
        return methods.ToDictionary(m => m, m =>
        {
            static double Score(SearchTrial r) => double.IsNaN(r.ValidationWorstGroup) ? 0 : r.ValidationWorstGroup;
            var mine = seedZero.Where(r => r.Method == m).ToList();
            var byDraw = mine.GroupBy(r => r.Draw)
                .Where(g => g.Select(r => r.SearchName).Distinct().Count() == choosingSets.Count)
                .Select(g =>
                {
                    var worst = g.OrderBy(Score).ThenBy(r => choosingSets.ToList().IndexOf(r.SearchName)).First();
                    return new DefaultsChoice(g.Key, worst.SearchName, Score(worst), g.Average(Score), []);
                })
                .OrderByDescending(d => d.WorstScore).ThenByDescending(d => d.MeanScore).ThenBy(d => d.Draw).ToList();
            var informative = choosingSets.Where(set => mine.Where(r => r.SearchName == set).Select(Score).Distinct().Count() > 1).ToList();
            return byDraw.Count == 0 ? new DefaultsChoice(0, "", double.NaN, double.NaN, informative) : byDraw[0] with { InformativeSets = informative };
        });
    }
}

/// <summary>The protocol's default for one method and why.</summary>
/// <param name="Draw">The chosen draw (0: the library's defaults).</param>
/// <param name="WorstSet">The choosing set where the chosen draw scored lowest.</param>
/// <param name="WorstScore">Its validation worst-group accuracy there (seed 0).</param>
/// <param name="MeanScore">Its mean over the choosing sets.</param>
/// <param name="InformativeSets">The choosing sets on which the method's draws did not all score the same.</param>
internal sealed record DefaultsChoice(int Draw, string WorstSet, double WorstScore, double MeanScore, IReadOnlyList<string> InformativeSets);
