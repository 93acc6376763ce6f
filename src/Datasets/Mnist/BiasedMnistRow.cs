using MLNet.FlatDebias.Common;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>One row of a <see cref="BiasedMnistSplit"/> as ML.NET sees it.</summary>
/// <remarks>Key fields hold the 0-based index; <c>LoadFromEnumerable</c> stores index + 1 as the key value.</remarks>
internal sealed class BiasedMnistRow
{
    public float[] Features { get; init; } = [];

    /// <summary>The label (key value label + 1).</summary>
    public uint Label { get; init; }

    /// <summary>The attribute index (key value attribute + 1); the column takes the set's attribute column name.</summary>
    public uint Attribute { get; init; }

    /// <summary>label · classes + attribute (key value + 1).</summary>
    public uint Group { get; init; }

    public static SchemaDefinition Schema(MnistBias bias, int height, int width)
    {
        var schema = SchemaDefinition.Create(typeof(BiasedMnistRow));
        schema[nameof(Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, height, width);
        schema[nameof(Attribute)].ColumnName = bias.AttributeColumnName;
        KeyColumn.Define(schema, nameof(Label), bias.ClassNames);
        KeyColumn.Define(schema, bias.AttributeColumnName, bias.AttributeNames);
        KeyColumn.Define(schema, nameof(Group), bias.GroupNames);
        return schema;
    }
}
