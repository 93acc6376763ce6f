using MLNet.FlatDebias.Common;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Datasets.Waterbirds;

/// <summary>One image of Waterbirds as <see cref="Microsoft.ML.WaterbirdsCatalog.LoadWaterbirds"/> hands it to ML.NET.</summary>
/// <remarks>Key fields hold the 0-based index: <c>LoadFromEnumerable</c> stores index + 1 as the key value
/// (0 being ML.NET's missing key), so y = 1 becomes key value 2.</remarks>
internal sealed class WaterbirdsRecord
{
    public string ImagePath { get; init; } = "";

    /// <summary>y (key value y + 1 in the data view).</summary>
    public uint Label { get; init; }

    /// <summary>place (key value place + 1).</summary>
    public uint Place { get; init; }

    /// <summary>2·y + place (key value 2·y + place + 1).</summary>
    public uint Group { get; init; }

    public string Split { get; init; } = "";

    public int ImageId { get; init; }

    /// <summary>The row of a metadata line whose image is at <paramref name="imagePath"/>.</summary>
    public static WaterbirdsRecord From(WaterbirdsMetadataRow row, string imagePath) => new()
    {
        ImagePath = imagePath,
        Label = (uint)row.Y,
        Place = (uint)row.Place,
        Group = (uint)row.Group,
        Split = WaterbirdsNames.SplitName(row.Split),
        ImageId = row.ImageId,
    };

    /// <summary>The schema: key types with KeyValues names on Label, Place and Group.</summary>
    public static SchemaDefinition Schema()
    {
        var schema = SchemaDefinition.Create(typeof(WaterbirdsRecord));
        KeyColumn.Define(schema, nameof(Label), WaterbirdsNames.Labels);
        KeyColumn.Define(schema, nameof(Place), WaterbirdsNames.Places);
        KeyColumn.Define(schema, nameof(Group), WaterbirdsNames.Groups);
        return schema;
    }
}
