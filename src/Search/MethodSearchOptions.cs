using Microsoft.ML;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Search;

/// <summary>
/// What a <see cref="MethodSearch"/> tries and how it chooses (<c>mlContext.MulticlassClassification.CreateMethodSearch(options)</c>).
/// Every method gets the same number of draws from its search space (draw 0 is its library defaults), each trained with
/// seed 0 and scored on validation; the draw with the best validation score by the regime (worst-group accuracy with a
/// group column, worst-class accuracy without) wins, is trained again with <see cref="Seeds"/>, and its seed-0 model is
/// returned. The fair benchmark's protocol, on the user's own data.
/// </summary>
public sealed class MethodSearchOptions
{
    /// <summary>The label column of every set: a key column. Default <c>"Label"</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The feature column of every set (features, or pixels with <see cref="Network"/> setting an image network).
    /// Default <c>"Features"</c>.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>The group column (key, string, integer or bool), or null (the default) when there are no group labels. With
    /// it: the search chooses by validation worst-group accuracy, GroupDRO trains on the training rows' groups, DFR and DPE
    /// balance the held-out rows by group. Every group of the training rows must have validation rows.</summary>
    public string? GroupColumnName { get; set; }

    /// <summary>A group column read only to report each training's worst-group accuracy, never to train or choose (e.g.
    /// to see what a search without group labels does to the groups). Default null: <see cref="GroupColumnName"/>.</summary>
    public string? ReportGroupColumnName { get; set; }

    /// <summary>How the search chooses. Default null: <see cref="SelectionRegime.Groups"/> when
    /// <see cref="GroupColumnName"/> is set, else <see cref="SelectionRegime.NoGroups"/>. <c>Groups</c> needs the group column.</summary>
    public SelectionRegime? Selection { get; set; }

    /// <summary>The methods to try, in leaderboard order, or null (the default) for every method the data allows: GroupDRO
    /// only with a group column that the training set has, DFR and DPE only with <see cref="HeldOutSet"/>. Not empty.</summary>
    public IList<DebiasMethod>? Methods { get; set; }

    /// <summary>Draws per method, the same for every method (draw 0 is the defaults). Default 8; at least 1 (1: every
    /// method's defaults, trained once). Ignored when <see cref="TimeBudget"/> is set.</summary>
    public int DrawsPerMethod { get; set; } = 8;

    /// <summary>A time budget, or null (the default): every method's defaults are trained first, then the search takes as
    /// many draws per method as the remaining budget allows at the defaults' measured cost (the seeds' re-runs reserved), at
    /// least 1; the result says how many and why (<see cref="MethodSearchResult.DrawsPerMethod"/>,
    /// <see cref="MethodSearchResult.BudgetNote"/>). With a <see cref="ResultFolder"/> the number is recorded once, so a
    /// resumed search keeps it.</summary>
    public TimeSpan? TimeBudget { get; set; }

    /// <summary>The seeds the chosen draw is trained again with, for its spread (the draws use seed 0). Default 1, 2, 3;
    /// at least one, not 0, no repeats.</summary>
    public IList<int> Seeds { get; set; } = [1, 2, 3];

    /// <summary>The search spaces by short method name (<see cref="DebiasMethodNames.Name"/>), or null (the default) for the
    /// library's (<see cref="SearchSpace.Defaults"/>, the fair benchmark's).</summary>
    public IReadOnlyDictionary<string, SearchSpace>? SearchSpaces { get; set; }

    /// <summary>Sets the network and schedule every method's network starts from (network kind, width, image shape,
    /// epochs, batch size, optimiser, learning rate, weight decay, threads...), or null (the default) for the trainers'
    /// defaults. Columns, seed, device, validation set and model selection are the search's and set after it; a draw's
    /// <c>lr</c> and <c>wd</c> override the learning rate and weight decay.</summary>
    public Action<NetworkTrainerOptions>? Network { get; set; }

    /// <summary>Rows DFR and DPE fit their last layer on (label, features and, with groups, the group column), or null (the
    /// default; DFR and DPE are then not tried). Give rows that are not the validation set: a method's validation score is
    /// only comparable with the others' when it did not fit on those rows (the result's notes say so when they are the same).</summary>
    public IDataView? HeldOutSet { get; set; }

    /// <summary>Rows scored for the report only, never to choose, or null (the default).</summary>
    public IDataView? TestSet { get; set; }

    /// <summary>A folder that keeps every finished training (<c>runs/</c>, one small file each), so that a search that is
    /// stopped or cancelled resumes where it was, and several processes (or a Slurm array's tasks) running the same search
    /// on the same folder share its trainings. Default null: in memory only.</summary>
    public string? ResultFolder { get; set; }

    /// <summary>The search's name: it prefixes its result files, so that searches on several data sets can share a
    /// <see cref="ResultFolder"/>. Letters, digits, <c>-</c> and <c>_</c>. Default <c>"search"</c>.</summary>
    public string Name { get; set; } = "search";

    /// <summary>Where to train. Default <see cref="TrainingDevice.Auto"/>.</summary>
    public TrainingDevice Device { get; set; } = TrainingDevice.Auto;

    /// <summary>The regime these options choose by.</summary>
    internal SelectionRegime Regime => Selection ?? (GroupColumnName is null ? SelectionRegime.NoGroups : SelectionRegime.Groups);

    /// <summary>The search spaces in use.</summary>
    internal IReadOnlyDictionary<string, SearchSpace> Spaces => SearchSpaces ?? SearchSpace.Defaults;

    /// <summary>Checks what can be checked without the data.</summary>
    /// <exception cref="ArgumentException">An option is out of range or contradicts another; the message names it.</exception>
    internal void Validate()
    {
        static ArgumentException Bad(string option, string message) => new($"MethodSearchOptions.{option}: {message}", option);
        if (string.IsNullOrWhiteSpace(LabelColumnName)) throw Bad(nameof(LabelColumnName), "must name a column.");
        if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw Bad(nameof(FeatureColumnName), "must name a column.");
        if (GroupColumnName is { } g && string.IsNullOrWhiteSpace(g)) throw Bad(nameof(GroupColumnName), "must name a column or be null.");
        if (Selection == SelectionRegime.Groups && GroupColumnName is null)
            throw Bad(nameof(Selection), "is Groups (choose by validation worst-group accuracy), but GroupColumnName is not set: name the group column, or choose by worst class (NoGroups).");
        if (Methods is { Count: 0 }) throw Bad(nameof(Methods), "is empty: name at least one method, or leave it null for every method the data allows.");
        if (Methods is { } methods)
        {
            var twice = methods.GroupBy(m => m).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (twice.Count > 0) throw Bad(nameof(Methods), $"lists {string.Join(", ", twice)} more than once.");
            foreach (var m in methods)
                if (!Enum.IsDefined(m)) throw Bad(nameof(Methods), $"{m} is not a DebiasMethod.");
            var needHeldOut = methods.Where(DebiasMethodNames.FitsOnHeldOutSet).ToList();
            if (needHeldOut.Count > 0 && HeldOutSet is null)
                throw Bad(nameof(Methods), $"{string.Join(" and ", needHeldOut)} fit on a held-out set, and HeldOutSet is not set.");
            var missing = methods.Select(DebiasMethodNames.Name).Where(n => !Spaces.ContainsKey(n)).ToList();
            if (missing.Count > 0) throw Bad(nameof(SearchSpaces), $"has no search space for {string.Join(", ", missing)}.");
        }
        if (DrawsPerMethod < 1) throw Bad(nameof(DrawsPerMethod), $"is {DrawsPerMethod}; it must be at least 1 (1: each method's defaults once).");
        if (TimeBudget is { } budget && budget <= TimeSpan.Zero) throw Bad(nameof(TimeBudget), $"is {budget}; it must be positive, or null for DrawsPerMethod.");
        if (Seeds is null || Seeds.Count == 0) throw Bad(nameof(Seeds), "is empty: the chosen draw needs at least one more seed for its spread.");
        if (Seeds.Contains(0)) throw Bad(nameof(Seeds), "contains 0, the seed every draw trains with: give other seeds.");
        if (Seeds.Distinct().Count() != Seeds.Count) throw Bad(nameof(Seeds), "lists a seed twice.");
        if (string.IsNullOrEmpty(Name) || !Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            throw Bad(nameof(Name), $"'{Name}' must be letters, digits, '-' and '_' (it names result files).");
        if (ResultFolder is { } f && string.IsNullOrWhiteSpace(f)) throw Bad(nameof(ResultFolder), "must name a folder or be null.");
    }
}
