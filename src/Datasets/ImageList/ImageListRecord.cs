using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Datasets.ImageList;

/// <summary>One image as <c>LoadImageList</c> hands it to ML.NET.</summary>
internal sealed class ImageListRecord
{
    public string ImagePath { get; init; } = "";

    public string Label { get; init; } = "";

    public string Group { get; init; } = "";

    public string Split { get; init; } = "";

    /// <summary>The schema: every column, less Group and Split when the CSV has none.</summary>
    public static SchemaDefinition Schema(bool hasGroup, bool hasSplit)
    {
        var schema = SchemaDefinition.Create(typeof(ImageListRecord));
        if (!hasGroup) schema.RemoveAll(c => c.ColumnName == ImageListColumns.Group);
        if (!hasSplit) schema.RemoveAll(c => c.ColumnName == ImageListColumns.Split);
        return schema;
    }
}
