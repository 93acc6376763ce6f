using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>The training columns of a schema, checked: feature vector and image shape, key label, optional group and weight.</summary>
internal sealed record ColumnLayout(
    DataViewSchema.Column Features, ImageShape Shape, DataViewSchema.Column Label, LabelClasses Classes,
    DataViewSchema.Column? Group, DataViewSchema.Column? Weight)
{
    /// <summary>Checks a schema against the options; every error names the column and what was expected.</summary>
    public static ColumnLayout Check(DataViewSchema schema, NetworkTrainerOptions options, bool groupRequired)
    {
        var features = SchemaGuard.RequireColumn(schema, "feature", options.FeatureColumnName);
        var shape = ImageShapeOf(features.Name, features.Type, options.ImageShape);
        var label = SchemaGuard.RequireColumn(schema, "label", options.LabelColumnName);
        var classes = LabelClasses.Read(label);
        if (classes.Count < 2)
            throw SchemaGuard.Mismatch("label", label.Name, "Key with at least 2 classes", SchemaGuard.Describe(label.Type));

        DataViewSchema.Column? group = null;
        if (!string.IsNullOrEmpty(options.GroupColumnName))
        {
            group = SchemaGuard.RequireColumn(schema, "group", options.GroupColumnName);
            GroupColumnReader.CheckType(group.Value);
        }
        else if (groupRequired)
        {
            throw new ArgumentException("GroupColumnName must be set: this trainer uses the training groups.", nameof(options));
        }

        DataViewSchema.Column? weight = null;
        if (!string.IsNullOrEmpty(options.ExampleWeightColumnName))
        {
            weight = SchemaGuard.RequireColumn(schema, "example weight", options.ExampleWeightColumnName);
            if (weight.Value.Type != NumberDataViewType.Single && weight.Value.Type != NumberDataViewType.Double)
                throw SchemaGuard.Mismatch("example weight", weight.Value.Name, "Single or Double", SchemaGuard.Describe(weight.Value.Type));
        }
        return new ColumnLayout(features, shape, label, classes, group, weight);
    }

    /// <summary>The image shape from a feature column type and the optional <c>ImageShape</c> setting.</summary>
    public static ImageShape ImageShapeOf(string columnName, DataViewType type, ImageShape? option)
    {
        if (type is not VectorDataViewType vector || vector.ItemType != NumberDataViewType.Single || !vector.IsKnownSize)
            throw SchemaGuard.Mismatch("feature", columnName, "known-size vector of Single", SchemaGuard.Describe(type));
        if (option is ImageShape shape)
        {
            shape.Validate(nameof(NetworkTrainerOptions.ImageShape));
            if (shape.Size != vector.Size)
                throw SchemaGuard.Mismatch("feature", columnName, $"a vector of {shape.Size} values (ImageShape {shape})", SchemaGuard.Describe(type));
            return shape;
        }
        var dims = vector.Dimensions;
        return dims.Length switch
        {
            3 => new ImageShape(dims[0], dims[1], dims[2]),
            2 => new ImageShape(1, dims[0], dims[1]),
            _ => throw new ArgumentException(
                $"The feature column '{columnName}' is a flat vector of {vector.Size} values with no image dimensions: set ImageShape " +
                "(e.g. new ImageShape(3, 28, 28)) or produce the column with dimensions [C, H, W] (ExtractPixels does).", "ImageShape"),
        };
    }
}
