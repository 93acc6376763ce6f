using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>The output schema every last-layer method (DFR, AFR, DPE, FlatDebias's last layer) declares before fitting:
/// the input plus <c>Score</c> and <c>PredictedLabel</c>, with the label and feature columns checked.</summary>
internal static class LastLayerSchema
{
    /// <summary>The input plus <c>Score</c> (Vector&lt;Single, K&gt;) and <c>PredictedLabel</c> (a key column with the
    /// label's key values).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The label or feature column is missing or of the wrong type (ML.NET's
    /// wording).</exception>
    public static SchemaShape Output(SchemaShape inputSchema, string labelColumnName, string featureColumnName)
    {
        var label = SchemaGuard.RequireColumn(inputSchema, "label", labelColumnName);
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw SchemaGuard.Mismatch("label", label.Name, "Key (e.g. from MapValueToKey)", Describe(label));
        var features = SchemaGuard.RequireColumn(inputSchema, "feature", featureColumnName);
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
            throw SchemaGuard.Mismatch("feature", features.Name, "known-size vector of Single", Describe(features));

        // As NetworkTrainerBase: ML.NET's own estimators derive the output columns' shapes.
        var shapes = new MLContext();
        var withOutputs = shapes.Transforms.CopyColumns("PredictedLabel", label.Name)
            .Append(shapes.Transforms.Concatenate("Score", features.Name));
        return withOutputs.GetOutputSchema(inputSchema);
    }

    private static string Describe(SchemaShape.Column column) => column.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => column.IsKey ? $"Key<{column.ItemType.RawType.Name}>" : column.ItemType.RawType.Name,
        SchemaShape.Column.VectorKind.Vector => $"Vector<{column.ItemType.RawType.Name}>",
        _ => $"Vector<{column.ItemType.RawType.Name}> (variable size)",
    };
}
