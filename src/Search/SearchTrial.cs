using System.Globalization;

namespace MLNet.FlatDebias.Search;

/// <summary>Which training a trial is: the search it belongs to, the method, the regime, the draw and the seed. It names
/// the trial's result file, the same whichever process trained it.</summary>
/// <param name="SearchName">The search's name (<see cref="MethodSearchOptions.Name"/>; the fair benchmark names each search by its set).</param>
/// <param name="Method">The method's short name (<see cref="DebiasMethodNames.Name"/>).</param>
/// <param name="Regime">How the search chooses.</param>
/// <param name="Draw">The draw: 0 is the library's defaults, 1 and up a fixed sample of the method's search space.</param>
/// <param name="Seed">The training seed (draws are trained with seed 0; the chosen draw again with the search's seeds).</param>
public readonly record struct SearchTrialKey(string SearchName, string Method, SelectionRegime Regime, int Draw, int Seed)
{
    /// <summary>The result file's name: <c>{search}.{method}.{regime}.d{draw}.s{seed}.csv</c>.</summary>
    public string FileName => string.Create(CultureInfo.InvariantCulture, $"{SearchName}.{Method}.{Regime}.d{Draw}.s{Seed}.csv");

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{SearchName} {Method} {Regime} draw {Draw} seed {Seed}");
}

/// <summary>One training of a search and its outcome: validation scores choose, test scores (when the search was given a
/// test set) only report. A training that failed (a method that cannot run on the data) has NaN scores and the reason
/// after its values, and never wins a selection.</summary>
/// <param name="SearchName">The search's name.</param>
/// <param name="Method">The method's short name.</param>
/// <param name="Regime">How the search chooses.</param>
/// <param name="Draw">The draw (0: the library's defaults).</param>
/// <param name="Seed">The training seed.</param>
/// <param name="Values">The draw's values as text (<see cref="SearchSpace.Describe"/>), and for a failed training
/// <see cref="FailedMarker"/> and the reason.</param>
/// <param name="ValidationWorstGroup">Validation worst-group accuracy (NaN without a group column to report by).</param>
/// <param name="ValidationWorstClass">Validation worst-class accuracy.</param>
/// <param name="ValidationAccuracy">Validation accuracy.</param>
/// <param name="TestAccuracy">Test accuracy (NaN without a test set).</param>
/// <param name="TestWorstGroup">Test worst-group accuracy (NaN without a test set or group column).</param>
/// <param name="TestWorstClass">Test worst-class accuracy (NaN without a test set).</param>
/// <param name="Seconds">Training seconds (scoring excluded).</param>
public sealed record SearchTrial(string SearchName, string Method, SelectionRegime Regime, int Draw, int Seed, string Values,
    double ValidationWorstGroup, double ValidationWorstClass, double ValidationAccuracy,
    double TestAccuracy, double TestWorstGroup, double TestWorstClass, double Seconds)
{
    /// <summary>The header of a result file.</summary>
    public const string Header = "set,method,regime,draw,seed,val_wga,val_worst_class,val_acc,test_acc,test_wga,test_worst_class,seconds,values";

    /// <summary>What follows a failed training's values, before the reason.</summary>
    public const string FailedMarker = " FAILED: ";

    /// <summary>Which training this is.</summary>
    public SearchTrialKey Key => new(SearchName, Method, Regime, Draw, Seed);

    /// <summary>The method.</summary>
    public DebiasMethod MethodKind => DebiasMethodNames.Parse(Method);

    /// <summary>Whether the training failed (<see cref="FailureReason"/> says why).</summary>
    public bool Failed => Values.Contains(FailedMarker, StringComparison.Ordinal);

    /// <summary>Why the training failed, or null.</summary>
    public string? FailureReason => Failed ? Values.Split(FailedMarker, 2)[1] : null;

    /// <summary>The validation score the regime selects by: worst-group accuracy with groups, worst-class accuracy without.</summary>
    public double SelectionScore => Regime == SelectionRegime.Groups ? ValidationWorstGroup : ValidationWorstClass;

    /// <summary>The trial as one CSV line under <see cref="Header"/>: scores exact (round-trip), seconds to six significant digits.</summary>
    /// <returns>The line.</returns>
    public string ToCsv() => string.Join(",", SearchName, Method, Regime, I(Draw), I(Seed), F(ValidationWorstGroup), F(ValidationWorstClass), F(ValidationAccuracy),
        F(TestAccuracy), F(TestWorstGroup), F(TestWorstClass), Seconds.ToString("G6", CultureInfo.InvariantCulture), "\"" + Values + "\"");

    /// <summary>Reads a line <see cref="ToCsv"/> wrote.</summary>
    /// <param name="line">The line.</param>
    /// <returns>The trial.</returns>
    /// <exception cref="FormatException">Not such a line.</exception>
    public static SearchTrial FromCsv(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        int quote = line.IndexOf('"', StringComparison.Ordinal);
        if (quote < 1 || !line.EndsWith('"')) throw new FormatException($"'{line}' is not a search trial line ({Header}).");
        var f = line[..(quote - 1)].Split(',');
        if (f.Length != 12) throw new FormatException($"'{line}' has {f.Length + 1} fields; a search trial line has 13 ({Header}).");
        double D(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        return new SearchTrial(f[0], f[1], Enum.Parse<SelectionRegime>(f[2]), int.Parse(f[3], CultureInfo.InvariantCulture), int.Parse(f[4], CultureInfo.InvariantCulture),
            line[(quote + 1)..^1], D(5), D(6), D(7), D(8), D(9), D(10), D(11));
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{SearchName,-9} {Method,-17} {Regime,-8} draw {Draw} seed {Seed}: val wga {ValidationWorstGroup:F3} worst class {ValidationWorstClass:F3}; test wga {TestWorstGroup:F3} acc {TestAccuracy:F3} ({Seconds:F1} s)");

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>A score as the shortest text that reads back to the same double ("R"), so that a training read from a
    /// result file compares with one held in memory exactly as the two compared where they were trained: the choice cannot
    /// depend on which process trained what. (Files written before 2026-12-06 hold six significant digits; they read back
    /// as written.)</summary>
    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
