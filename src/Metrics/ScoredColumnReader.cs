using MLNet.FlatDebias.Common;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Metrics;

/// <summary>
/// Reads the label and predicted label of every row of a scored data view as zero-based class indices, and
/// checks the score column for NaN, in one pass.
/// </summary>
internal static class ScoredColumnReader
{
    /// <summary>Labels and predictions per row.</summary>
    /// <param name="data">The scored data.</param>
    /// <param name="label">A key column (checked by the caller).</param>
    /// <param name="predictedLabel">A key column of the label's count (checked by the caller).</param>
    /// <param name="score">A known-size vector of <see cref="float"/> (checked by the caller).</param>
    /// <exception cref="InvalidOperationException">No rows; or a row with a missing label or predicted label,
    /// or a NaN score; the message names the column and the (zero-based) row.</exception>
    public static (int[] Labels, int[] Predictions) Read(IDataView data, DataViewSchema.Column label,
        DataViewSchema.Column predictedLabel, DataViewSchema.Column score)
    {
        var labels = new List<int>();
        var predictions = new List<int>();
        using (var cursor = data.GetRowCursor([label, predictedLabel, score]))
        {
            var labelOf = KeyColumn.IndexGetter(cursor, label);
            var predictionOf = KeyColumn.IndexGetter(cursor, predictedLabel);
            var scoreOf = cursor.GetGetter<VBuffer<float>>(score);
            VBuffer<float> scores = default;
            while (cursor.MoveNext())
            {
                long row = cursor.Position;
                scoreOf(ref scores);
                var values = scores.GetValues();
                for (int i = 0; i < values.Length; i++)
                    if (float.IsNaN(values[i]))
                        throw new InvalidOperationException($"The score column '{score.Name}' has NaN in row {row}: the model's output is not a number there, so it cannot be evaluated.");
                int l = labelOf();
                if (l == KeyColumn.Missing)
                    throw new InvalidOperationException($"Row {row} of the label column '{label.Name}' has a missing key value; every row needs a label.");
                int p = predictionOf();
                if (p == KeyColumn.Missing)
                    throw new InvalidOperationException($"Row {row} of the predicted label column '{predictedLabel.Name}' has a missing key value; every row needs a prediction.");
                labels.Add(l);
                predictions.Add(p);
            }
        }
        if (labels.Count == 0) throw GroupColumnReader.NoRows();
        return (labels.ToArray(), predictions.ToArray());
    }
}
