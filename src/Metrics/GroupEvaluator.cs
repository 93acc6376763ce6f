using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;

namespace MLNet.FlatDebias.Metrics;

/// <summary>The work behind <see cref="GroupEvaluationCatalog.EvaluateGroups"/>: schema checks, one pass per reader, the summary, ML.NET's overall metrics.</summary>
internal static class GroupEvaluator
{
    private const string LabelRole = "label";
    private const string ScoreRole = "score";
    private const string PredictedLabelRole = "predicted label";

    /// <summary>See <see cref="GroupEvaluationCatalog.EvaluateGroups"/>.</summary>
    public static GroupMetrics Evaluate(MulticlassClassificationCatalog catalog, IDataView data, string labelColumnName,
        string groupColumnName, string scoreColumnName, string predictedLabelColumnName, IReadOnlyDictionary<string, double>? groupWeights)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        var schema = data.Schema;

        var label = SchemaGuard.RequireColumn(schema, LabelRole, labelColumnName);
        var labelType = KeyColumn.Require(label, LabelRole, "Key");
        int classCount = (int)labelType.Count;
        var score = SchemaGuard.RequireColumn(schema, ScoreRole, scoreColumnName);
        if (score.Type is not VectorDataViewType { ItemType: NumberDataViewType, Size: var size } vector
            || vector.ItemType.RawType != typeof(float) || size != classCount)
            throw SchemaGuard.Mismatch(ScoreRole, score.Name, $"Vector<Single, {classCount}>", SchemaGuard.Describe(score.Type));
        var predicted = SchemaGuard.RequireColumn(schema, PredictedLabelRole, predictedLabelColumnName);
        var predictedType = KeyColumn.Require(predicted, PredictedLabelRole, SchemaGuard.Describe(labelType));
        if (predictedType.Count != labelType.Count)
            throw SchemaGuard.Mismatch(PredictedLabelRole, predicted.Name, SchemaGuard.Describe(labelType), SchemaGuard.Describe(predictedType));
        GroupColumnReader.CheckType(SchemaGuard.RequireColumn(schema, GroupColumnReader.Role, groupColumnName));

        var (labels, predictions) = ScoredColumnReader.Read(data, label, predicted, score);
        var groups = GroupColumnReader.Read(data, groupColumnName);
        if (groups.Indices.Length != labels.Length)
            throw new InvalidOperationException($"The data view returned {labels.Length} rows for the label and {groups.Indices.Length} for the {GroupColumnReader.Role} column '{groupColumnName}'; it must return the same rows on every cursor.");
        var summary = GroupAccuracySummary.Compute(labels, predictions, groups.Indices, groups.Names, classCount);

        IReadOnlyDictionary<string, double>? weights = null;
        double? adjusted = null;
        if (groupWeights is not null)
        {
            (var byIndex, weights) = GroupWeights.Align(groupWeights, summary, groupColumnName);
            adjusted = summary.WeightedAccuracy(byIndex);
        }

        var overall = catalog.Evaluate(data, labelColumnName, scoreColumnName, predictedLabelColumnName);
        return new GroupMetrics(overall, summary, Array.AsReadOnly(KeyNames.Get(label)), weights, adjusted);
    }
}
