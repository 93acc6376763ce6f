using System.Globalization;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Search;

/// <summary>Mean, sample standard deviation and worst value of one score over seeds.</summary>
/// <param name="Mean">The mean.</param>
/// <param name="StandardDeviation">The sample standard deviation (0 for one seed).</param>
/// <param name="Worst">The lowest value.</param>
/// <param name="Count">How many seeds.</param>
public sealed record SeedSpread(double Mean, double StandardDeviation, double Worst, int Count)
{
    /// <summary>The spread of <paramref name="values"/> (NaN fields when there are none).</summary>
    /// <param name="values">One value per seed.</param>
    /// <returns>The spread.</returns>
    public static SeedSpread Of(IEnumerable<double> values)
    {
        var v = values.ToList();
        if (v.Count == 0) return new SeedSpread(double.NaN, double.NaN, double.NaN, 0);
        double mean = v.Average();
        double sd = v.Count < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
        return new SeedSpread(mean, sd, v.Min(), v.Count);
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{100 * Mean:F1} ± {100 * StandardDeviation:F1} % (worst seed {100 * Worst:F1} %, {Count} seed{(Count == 1 ? "" : "s")})");
}

/// <summary>
/// What a <see cref="MethodSearch"/> found: the chosen model (its seed-0 training: an ordinary fitted transformer that
/// <c>Transform</c>s, evaluates, saves with <c>mlContext.Model.Save</c> and serves a <c>PredictionEngine</c>), the
/// leaderboard of every training, and the chosen draw's seeds. Disposing the result disposes the model.
/// </summary>
public sealed class MethodSearchResult : IDisposable
{
    internal MethodSearchResult(ClassifierNetworkTransformer model, SearchTrial chosen, IReadOnlyList<SearchTrial> leaderboard, IReadOnlyList<SearchTrial> chosenSeeds,
        IReadOnlyList<DebiasMethod> methods, IReadOnlyDictionary<DebiasMethod, string> leftOut, SelectionRegime regime, int drawsPerMethod, string budgetNote,
        IReadOnlyList<string> notes, bool hasTest)
    {
        Model = model;
        Chosen = chosen;
        Leaderboard = leaderboard;
        ChosenSeeds = chosenSeeds;
        Methods = methods;
        LeftOutMethods = leftOut;
        Regime = regime;
        DrawsPerMethod = drawsPerMethod;
        BudgetNote = budgetNote;
        Notes = notes;
        HasTestScores = hasTest;
        ChosenValidation = SeedSpread.Of(chosenSeeds.Select(t => t.SelectionScore));
        ChosenTest = SeedSpread.Of(hasTest ? chosenSeeds.Select(t => regime == SelectionRegime.Groups || !double.IsNaN(t.TestWorstGroup) ? t.TestWorstGroup : t.TestWorstClass) : []);
    }

    /// <summary>The chosen model: the chosen draw trained with seed 0.</summary>
    public ClassifierNetworkTransformer Model { get; }

    /// <summary>The chosen draw's seed-0 training: the leaderboard's best by the search's rule (<see cref="SearchRule"/>).</summary>
    public SearchTrial Chosen { get; }

    /// <summary>Every training: first the draws (seed 0), best first by the rule (a failed one last, with its reason), then the
    /// chosen draw's re-runs with the other seeds.</summary>
    public IReadOnlyList<SearchTrial> Leaderboard { get; }

    /// <summary>The chosen draw trained with <see cref="MethodSearchOptions.Seeds"/> (not seed 0, which chose it).</summary>
    public IReadOnlyList<SearchTrial> ChosenSeeds { get; }

    /// <summary>The chosen draw's validation selection score (worst group, or worst class without groups) over its seeds.</summary>
    public SeedSpread ChosenValidation { get; }

    /// <summary>The chosen draw's test worst-group accuracy (worst-class accuracy without a group column) over its seeds;
    /// NaN fields without a test set.</summary>
    public SeedSpread ChosenTest { get; }

    /// <summary>The methods tried, in order.</summary>
    public IReadOnlyList<DebiasMethod> Methods { get; }

    /// <summary>The methods not tried (with the default method list), each with the reason.</summary>
    public IReadOnlyDictionary<DebiasMethod, string> LeftOutMethods { get; }

    /// <summary>How the search chose.</summary>
    public SelectionRegime Regime { get; }

    /// <summary>Draws per method (draw 0 included): <see cref="MethodSearchOptions.DrawsPerMethod"/>, or what the time budget allowed.</summary>
    public int DrawsPerMethod { get; }

    /// <summary>With a time budget, how it became <see cref="DrawsPerMethod"/>; else empty.</summary>
    public string BudgetNote { get; }

    /// <summary>Caveats on the comparison (e.g. DFR fitted on the validation rows), possibly none.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>Whether the trainings were scored on a test set.</summary>
    public bool HasTestScores { get; }

    /// <summary>Each method's best draw (seed 0) by the rule, in <see cref="Methods"/> order.</summary>
    /// <returns>One training per method that has one.</returns>
    public IReadOnlyList<SearchTrial> BestPerMethod()
    {
        var draws = Leaderboard.Where(t => t.Seed == 0).ToList();
        return [.. Methods.Select(DebiasMethodNames.Name).Select(m => draws.Where(t => t.Method == m).ToList()).Where(l => l.Count > 0)
            .Select(l => l.First(t => t.Draw == SearchRule.ChooseDraw(l)))];
    }

    /// <summary>Writes <c>report.md</c> (the choice, the seeds' spread, each method's best draw, the leaderboard),
    /// <c>leaderboard.csv</c> and the chart <c>worst-group.png</c> (validation and test score of each method's best draw,
    /// the chosen one marked) to <paramref name="folder"/>.</summary>
    /// <param name="folder">The folder (created if missing).</param>
    /// <returns>The path of <c>report.md</c>.</returns>
    public string WriteReport(string folder) => MethodSearchReport.Write(this, folder);

    /// <summary>The leaderboard as text (what <c>report.md</c> tabulates).</summary>
    /// <returns>The text.</returns>
    public string FormatLeaderboard() => MethodSearchReport.Leaderboard(this);

    /// <summary>Disposes <see cref="Model"/>.</summary>
    public void Dispose() => Model.Dispose();
}
