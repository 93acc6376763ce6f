using MLNet.FlatDebias.Common;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>One row of a <see cref="ColoredMnistSplit"/> as ML.NET sees it.</summary>
/// <remarks>Key fields hold the 0-based index; <c>LoadFromEnumerable</c> stores index + 1 as the key value.</remarks>
internal sealed class ColoredMnistRow
{
    public float[] Features { get; init; } = [];

    /// <summary>The digit (key value digit + 1).</summary>
    public uint Label { get; init; }

    /// <summary>The colour index (key value colour + 1).</summary>
    public uint Color { get; init; }

    /// <summary>10·digit + colour (key value 10·digit + colour + 1).</summary>
    public uint Group { get; init; }

    public static SchemaDefinition Schema(int height, int width)
    {
        var schema = SchemaDefinition.Create(typeof(ColoredMnistRow));
        schema[nameof(Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, height, width);
        KeyColumn.Define(schema, nameof(Label), ColoredMnist.DigitNames);
        KeyColumn.Define(schema, nameof(Color), ColoredMnistPalette.Names);
        KeyColumn.Define(schema, nameof(Group), ColoredMnist.GroupNames);
        return schema;
    }
}
