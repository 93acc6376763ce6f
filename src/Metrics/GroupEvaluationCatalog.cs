using MLNet.FlatDebias.Metrics;

namespace Microsoft.ML;

/// <summary>
/// Group-aware evaluation for <see cref="MulticlassClassificationCatalog"/>: per-group and worst-group
/// accuracy of any scored data view (the output of this library's trainers or of any ML.NET multiclass
/// trainer, e.g. <c>LbfgsMaximumEntropy</c>).
/// </summary>
public static class GroupEvaluationCatalog
{
    /// <summary>
    /// Evaluates scored data per group: ML.NET's own metrics over the whole set, one row per group (rows,
    /// accuracy, per-class accuracies), worst-group, mean-group, average and adjusted average accuracy, and
    /// worst-class accuracy.
    /// </summary>
    /// <param name="catalog">The multiclass classification catalog.</param>
    /// <param name="data">Scored data, e.g. the output of <c>model.Transform(testData)</c>; at least one row.</param>
    /// <param name="labelColumnName">The label column: a key (as ML.NET's evaluator requires; use
    /// <c>MapValueToKey</c>). Default <c>"Label"</c>. A missing key value (0) in any row is an error.</param>
    /// <param name="groupColumnName">The group column: key, string, integer or bool. Default <c>"Group"</c>.
    /// A missing value (key 0, empty string) in any row is an error.</param>
    /// <param name="scoreColumnName">The score column: a vector of <see cref="float"/> with one slot per class.
    /// Default <c>"Score"</c>. NaN in any row is an error.</param>
    /// <param name="predictedLabelColumnName">The predicted label column: a key with as many values as the
    /// label. Default <c>"PredictedLabel"</c>. Accuracies are computed from it.</param>
    /// <param name="groupWeights">Group name → weight for <see cref="GroupMetrics.AdjustedAverageAccuracy"/>,
    /// e.g. the training proportions from <see cref="ComputeGroupWeights"/>. The names must be exactly the groups
    /// that have rows in <paramref name="data"/>; weights finite, ≥ 0, not all 0, renormalised to sum 1.
    /// Default <c>null</c>: no adjusted average.</param>
    /// <returns>The group metrics; its <c>ToString()</c> is a table with one row per group.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing (<c>Could not find {role} column '{name}'</c>)
    /// or of the wrong type (<c>Schema mismatch for {role} column '{name}': expected X, got Y</c>).</exception>
    /// <exception cref="ArgumentException"><paramref name="groupWeights"/> names a group with no rows, lacks a
    /// group with rows, or has a negative, non-finite or all-zero weight; the message names the group.</exception>
    /// <exception cref="InvalidOperationException">The data view has no rows, or a row has a NaN score or a
    /// missing label, prediction or group; the message names the column and the row.</exception>
    public static GroupMetrics EvaluateGroups(this MulticlassClassificationCatalog catalog, IDataView data,
        string labelColumnName = "Label", string groupColumnName = "Group", string scoreColumnName = "Score",
        string predictedLabelColumnName = "PredictedLabel", IReadOnlyDictionary<string, double>? groupWeights = null)
        => GroupEvaluator.Evaluate(catalog, data, labelColumnName, groupColumnName, scoreColumnName, predictedLabelColumnName, groupWeights);

    /// <summary>
    /// The share of rows of each group in <paramref name="trainData"/>, keyed by the group names
    /// <see cref="EvaluateGroups"/> uses: the weights for its adjusted average accuracy (the Waterbirds
    /// convention weights test group accuracies by the training proportions).
    /// </summary>
    /// <param name="catalog">The multiclass classification catalog.</param>
    /// <param name="trainData">The training data; at least one row. Only the group column is read.</param>
    /// <param name="groupColumnName">The group column: key, string, integer or bool. Default <c>"Group"</c>.</param>
    /// <returns>Group name → share of rows, in (0, 1], summing to 1, in group order; groups with no rows are absent.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or of another type (ML.NET's wording).</exception>
    /// <exception cref="InvalidOperationException">The data view has no rows, or a row's group is missing.</exception>
    public static IReadOnlyDictionary<string, double> ComputeGroupWeights(this MulticlassClassificationCatalog catalog,
        IDataView trainData, string groupColumnName = "Group")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return GroupWeights.FromData(trainData, groupColumnName);
    }
}
