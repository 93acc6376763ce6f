using System.Globalization;

namespace MLNet.FlatDebias.Search;

/// <summary>The selection rule of the search and of the fair benchmark: the best validation score by the regime (worst-group
/// accuracy with groups, worst-class accuracy without); a training with no score (a failed one) never wins over one that has
/// a score; ties go to the earlier method in the search's list, then to the lowest draw.</summary>
public static class SearchRule
{
    /// <summary>The best of <paramref name="draws"/> (seed-0 trainings of one method): the best selection score, the lowest
    /// draw on a tie.</summary>
    /// <param name="draws">The method's seed-0 trainings.</param>
    /// <returns>The chosen draw's number.</returns>
    /// <exception cref="ArgumentException">No training given.</exception>
    public static int ChooseDraw(IEnumerable<SearchTrial> draws)
    {
        var list = draws.ToList();
        if (list.Count == 0) throw new ArgumentException("No draw to choose from.", nameof(draws));
        return list.OrderByDescending(Score).ThenBy(r => r.Draw).First().Draw;
    }

    /// <summary>The best of <paramref name="trials"/> across methods: the best selection score, then the method that comes
    /// first in <paramref name="methodOrder"/>, then the lowest draw.</summary>
    /// <param name="trials">Seed-0 trainings.</param>
    /// <param name="methodOrder">The methods' short names in the search's order.</param>
    /// <returns>The best training, or null when there is none.</returns>
    public static SearchTrial? Best(IEnumerable<SearchTrial> trials, IReadOnlyList<string> methodOrder)
    {
        ArgumentNullException.ThrowIfNull(methodOrder);
        return trials.OrderByDescending(Score).ThenBy(r => Rank(methodOrder, r.Method)).ThenBy(r => r.Draw).FirstOrDefault();
    }

    /// <summary>A training's selection score for ordering: NaN (no score) ranks below every score.</summary>
    /// <param name="trial">A training.</param>
    /// <returns>Its selection score, or negative infinity.</returns>
    public static double Score(SearchTrial trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        return double.IsNaN(trial.SelectionScore) ? double.NegativeInfinity : trial.SelectionScore;
    }

    /// <summary>The selection score with its name, e.g. <c>validation worst group 81.2 %</c>.</summary>
    /// <param name="trial">A training.</param>
    /// <returns>The text.</returns>
    public static string Describe(SearchTrial trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        return string.Create(CultureInfo.InvariantCulture,
            $"validation {(trial.Regime == SelectionRegime.Groups ? "worst group" : "worst class")} {100 * trial.SelectionScore:F1} %");
    }

    private static int Rank(IReadOnlyList<string> order, string method)
    {
        for (int i = 0; i < order.Count; i++)
            if (order[i] == method) return i;
        return int.MaxValue;
    }
}
