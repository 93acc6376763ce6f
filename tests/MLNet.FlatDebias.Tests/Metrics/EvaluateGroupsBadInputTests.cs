using Microsoft.ML;
using static MLNet.FlatDebias.Tests.Metrics.MetricsTestData;

namespace MLNet.FlatDebias.Tests.Metrics;

public sealed class EvaluateGroupsBadInputTests
{
    private readonly MLContext mlContext = new(seed: 0);

    [Theory]
    [InlineData("label")]
    [InlineData("group")]
    [InlineData("score")]
    [InlineData("predicted label")]
    public void Missing_column_is_named_in_MLNet_wording(string role)
    {
        var data = Load(mlContext);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => role switch
        {
            "label" => mlContext.MulticlassClassification.EvaluateGroups(data, labelColumnName: "Nope"),
            "group" => mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "Nope"),
            "score" => mlContext.MulticlassClassification.EvaluateGroups(data, scoreColumnName: "Nope"),
            _ => mlContext.MulticlassClassification.EvaluateGroups(data, predictedLabelColumnName: "Nope"),
        });
        Assert.StartsWith($"Could not find {role} column 'Nope'", e.Message);
    }

    [Fact]
    public void Float_label_is_a_schema_mismatch()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), labelColumnName: "LabelFloat"));
        Assert.StartsWith("Schema mismatch for label column 'LabelFloat': expected Key, got Single", e.Message);
    }

    [Fact]
    public void Float_group_is_a_schema_mismatch()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupColumnName: "GroupFloat"));
        Assert.StartsWith("Schema mismatch for group column 'GroupFloat': expected Key, String, integer", e.Message);
        Assert.Contains("got Single", e.Message);
    }

    [Fact]
    public void Score_that_is_not_a_vector_of_one_float_per_class_is_a_schema_mismatch()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), scoreColumnName: "LabelFloat"));
        Assert.StartsWith("Schema mismatch for score column 'LabelFloat': expected Vector<Single, 3>, got Single", e.Message);
    }

    [Fact]
    public void Predicted_label_that_is_not_a_key_of_the_label_count_is_a_schema_mismatch()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), predictedLabelColumnName: "GroupKey"));
        Assert.StartsWith("Schema mismatch for predicted label column 'GroupKey': expected Key<UInt32, 0-2>, got Key<UInt32, 0-3>", e.Message);
    }

    [Fact]
    public void Empty_data_is_an_error_saying_so()
    {
        var e = Assert.Throws<InvalidOperationException>(() =>
            mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext, [])));
        Assert.Contains("no rows", e.Message);
        var w = Assert.Throws<InvalidOperationException>(() =>
            mlContext.MulticlassClassification.ComputeGroupWeights(Load(mlContext, [])));
        Assert.Contains("no rows", w.Message);
    }

    [Fact]
    public void NaN_score_is_an_error_naming_the_column_and_the_row()
    {
        var rows = Rows();
        rows[5].Score[1] = float.NaN;

        var e = Assert.Throws<InvalidOperationException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext, rows)));
        Assert.Contains("score column 'Score'", e.Message);
        Assert.Contains("row 5", e.Message);
    }

    [Fact]
    public void Missing_key_group_is_an_error_naming_the_row()
    {
        // A value the key mapping never saw becomes the missing key (0).
        var rows = Rows();
        rows[3].Group = "penguin/ice";
        var mapping = mlContext.Transforms.Conversion.MapValueToKey("GroupMapped", "Group").Fit(Load(mlContext));

        var e = Assert.Throws<InvalidOperationException>(() => mlContext.MulticlassClassification.EvaluateGroups(
            mapping.Transform(Load(mlContext, rows)), groupColumnName: "GroupMapped"));
        Assert.Contains("Row 3", e.Message);
        Assert.Contains("group column 'GroupMapped'", e.Message);
    }

    [Fact]
    public void Empty_string_group_is_an_error_naming_the_row()
    {
        var rows = Rows();
        rows[7].Group = "";

        var e = Assert.Throws<InvalidOperationException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext, rows)));
        Assert.Contains("Row 7", e.Message);
        Assert.Contains("group column 'Group'", e.Message);
    }

    [Fact]
    public void Missing_label_is_an_error_naming_the_row()
    {
        var rows = Rows();
        rows[2].LabelText = "zebra";
        var mapping = mlContext.Transforms.Conversion.MapValueToKey("LabelKey", "LabelText").Fit(Load(mlContext));

        var e = Assert.Throws<InvalidOperationException>(() => mlContext.MulticlassClassification.EvaluateGroups(
            mapping.Transform(Load(mlContext, rows)), labelColumnName: "LabelKey"));
        Assert.Contains("Row 2", e.Message);
        Assert.Contains("label column 'LabelKey'", e.Message);
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => mlContext.MulticlassClassification.EvaluateGroups(null!));
        Assert.Throws<ArgumentNullException>(() => mlContext.MulticlassClassification.ComputeGroupWeights(null!));
        Assert.Throws<ArgumentException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupColumnName: ""));
    }
}
