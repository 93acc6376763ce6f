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
        bool flattens = options.PretrainedWeights != PretrainedWeightsSource.ImageNetResNet18 && NetworkFactory.FlattensInput(options.Network);
        var shape = ImageShapeOf(features.Name, features.Type, options.ImageShape, flattens);
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
    /// <param name="columnName">The feature column, for the messages.</param>
    /// <param name="type">Its type: a known-size vector of Single.</param>
    /// <param name="option">The <c>ImageShape</c> setting, or null to take the shape from the column's dimensions.</param>
    /// <param name="acceptsFlatVector">Whether the network flattens its input (<see cref="NetworkKind.Mlp"/>,
    /// <see cref="NetworkKind.Linear"/>): then a one-dimensional column of n values (a feature vector) is the shape
    /// <c>[n, 1, 1]</c>, n feature channels of 1x1 pixel; otherwise it needs <c>ImageShape</c>.</param>
    public static ImageShape ImageShapeOf(string columnName, DataViewType type, ImageShape? option, bool acceptsFlatVector)
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
            1 when acceptsFlatVector => new ImageShape(dims[0], 1, 1),
            _ => throw new ArgumentException(
                $"The feature column '{columnName}' is a flat vector of {vector.Size} values with no image dimensions, and a " +
                "convolutional network needs an image: set ImageShape (e.g. new ImageShape(3, 28, 28)) or produce the column with " +
                "dimensions [C, H, W] (ExtractPixels does). For a feature vector (e.g. a pretrained network's features), use " +
                "Network = Mlp or Linear, which take flat vectors.", nameof(NetworkTrainerOptions.ImageShape)),
        };
    }
}
