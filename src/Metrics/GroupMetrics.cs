using System.Collections.ObjectModel;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Metrics;

/// <summary>
/// Group evaluation results of a multiclass classifier, returned by
/// <see cref="Microsoft.ML.GroupEvaluationCatalog.EvaluateGroups"/>: ML.NET's own metrics over the whole set
/// (<see cref="Overall"/>), one row per group (<see cref="ByGroup"/>), and the worst group (as Fairlearn's
/// <c>MetricFrame</c>: <c>overall</c>, <c>by_group</c>, <c>group_min</c>).
/// </summary>
/// <remarks>
/// Accuracies are computed from the predicted label column; ML.NET's <see cref="Overall"/> takes the arg-max
/// of the score column, so the two agree except where a trainer's predicted label differs from that arg-max.
/// </remarks>
public sealed class GroupMetrics
{
    internal GroupMetrics(MulticlassClassificationMetrics overall, GroupAccuracySummary summary, IReadOnlyList<string> classNames,
        IReadOnlyDictionary<string, double>? groupWeights, double? adjustedAverageAccuracy)
    {
        Overall = overall;
        ClassNames = classNames;
        var byGroup = new List<GroupAccuracy>();
        var withoutRows = new List<string>();
        for (int g = 0; g < summary.GroupNames.Count; g++)
        {
            if (!summary.HasRows(g))
            {
                withoutRows.Add(summary.GroupNames[g]);
                continue;
            }
            var perClass = new Dictionary<string, double>(StringComparer.Ordinal);
            for (int c = 0; c < summary.ClassCount; c++)
                if (summary.GroupClassRowCount(g, c) > 0) perClass.Add(classNames[c], summary.GroupClassAccuracy(g, c));
            byGroup.Add(new GroupAccuracy(summary.GroupNames[g], summary.GroupRowCounts[g], summary.GroupCorrectCounts[g],
                new ReadOnlyDictionary<string, double>(perClass)));
        }
        ByGroup = byGroup.AsReadOnly();
        GroupsWithoutRows = withoutRows.AsReadOnly();

        var byClass = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int c = 0; c < summary.ClassCount; c++)
            if (summary.ClassRowCounts[c] > 0) byClass.Add(classNames[c], summary.ClassAccuracies[c]);
        PerClassAccuracy = new ReadOnlyDictionary<string, double>(byClass);

        WorstGroup = summary.GroupNames[summary.WorstGroup];
        WorstGroupAccuracy = summary.WorstGroupAccuracy;
        AverageAccuracy = summary.AverageAccuracy;
        MeanGroupAccuracy = summary.MeanGroupAccuracy;
        WorstClass = classNames[summary.WorstClass];
        WorstClassAccuracy = summary.WorstClassAccuracy;
        GroupWeights = groupWeights;
        AdjustedAverageAccuracy = adjustedAverageAccuracy;
    }

    /// <summary>ML.NET's metrics over the whole set, from <c>mlContext.MulticlassClassification.Evaluate</c> on the same data and columns.</summary>
    public MulticlassClassificationMetrics Overall { get; }

    /// <summary>
    /// One row per group with rows, in a stable order: a key group column in key order, named by its
    /// <c>KeyValues</c> annotation (else the zero-based key index); a string column in ordinal order; an
    /// integer column in numeric order; a bool column <c>False</c>, <c>True</c>. Integers and bools are named by
    /// their invariant-culture text.
    /// </summary>
    public IReadOnlyList<GroupAccuracy> ByGroup { get; }

    /// <summary>
    /// Groups the group column declares but no row has (possible only for a key column, e.g. a validation set
    /// missing a group); they have no accuracy and take no part in the summaries. Empty by default.
    /// </summary>
    public IReadOnlyList<string> GroupsWithoutRows { get; }

    /// <summary>The class names, in key order: the label column's <c>KeyValues</c> annotation, else the zero-based key index as text.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The lowest accuracy of any group, in [0, 1] (Fairlearn's <c>group_min</c>).</summary>
    public double WorstGroupAccuracy { get; }

    /// <summary>The name of the group with the lowest accuracy; on a tie, the first in <see cref="ByGroup"/> order.</summary>
    public string WorstGroup { get; }

    /// <summary>Plain accuracy over all rows, in [0, 1] (ML.NET's micro accuracy, from the predicted label column).</summary>
    public double AverageAccuracy { get; }

    /// <summary>Unweighted mean of the group accuracies, in [0, 1]: every group counts the same, whatever its size.</summary>
    public double MeanGroupAccuracy { get; }

    /// <summary>
    /// Group accuracies weighted by <see cref="GroupWeights"/> (e.g. the training set's group proportions, the
    /// Waterbirds convention), in [0, 1]; <c>null</c> (the default) when no group weights were given.
    /// </summary>
    public double? AdjustedAverageAccuracy { get; }

    /// <summary>The group weights used for <see cref="AdjustedAverageAccuracy"/>, renormalised to sum 1, in group
    /// order; <c>null</c> (the default) when none were given.</summary>
    public IReadOnlyDictionary<string, double>? GroupWeights { get; }

    /// <summary>Class name → accuracy of all rows with that label (its recall), in [0, 1]; classes with no rows are absent.</summary>
    public IReadOnlyDictionary<string, double> PerClassAccuracy { get; }

    /// <summary>The lowest class accuracy over all rows, in [0, 1]: a selection criterion that needs no group labels.</summary>
    public double WorstClassAccuracy { get; }

    /// <summary>The name of the class with the lowest accuracy; on a tie, the first in class order.</summary>
    public string WorstClass { get; }

    /// <summary>
    /// A table with one row per group (rows, accuracy, per-class accuracies; <c>-</c> where a class has no
    /// row in the group) followed by the summaries, like ML.NET's <c>GetFormattedConfusionTable</c>.
    /// </summary>
    public string GetFormattedGroupTable() => GroupTableFormatter.Format(this);

    /// <summary>The same as <see cref="GetFormattedGroupTable"/>.</summary>
    public override string ToString() => GetFormattedGroupTable();
}
