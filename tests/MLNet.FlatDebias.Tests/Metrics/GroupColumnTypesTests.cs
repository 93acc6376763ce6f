using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using MLNet.FlatDebias.Metrics;
using static MLNet.FlatDebias.Tests.Metrics.MetricsTestData;

namespace MLNet.FlatDebias.Tests.Metrics;

public sealed class GroupColumnTypesTests
{
    private readonly MLContext mlContext = new(seed: 0);

    [Theory]
    [InlineData("Group", new[] { "landbird/land", "landbird/water", "waterbird/land", "waterbird/water" })]
    [InlineData("GroupKey", new[] { "0", "1", "2", "3" })]
    [InlineData("GroupInt", new[] { "3", "13", "23", "33" })]
    [InlineData("GroupLong", new[] { "-2", "-1", "0", "1" })]
    [InlineData("GroupByte", new[] { "0", "1", "2", "3" })]
    public void Key_string_and_integer_group_columns_give_the_same_numbers_in_value_order(string column, string[] names)
    {
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupColumnName: column);

        Assert.Equal(names, metrics.ByGroup.Select(g => g.Name));
        for (int g = 0; g < names.Length; g++)
        {
            Assert.Equal(Count(i => Groups[i] == g), metrics.ByGroup[g].RowCount);
            Assert.Equal(Accuracy(i => Groups[i] == g), metrics.ByGroup[g].Accuracy, Tolerance.CountRatio);
        }
        var reference = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext));
        Assert.Equal(Numbers(reference), Numbers(metrics));
        Assert.Equal(reference.WorstGroupAccuracy, metrics.WorstGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(reference.MeanGroupAccuracy, metrics.MeanGroupAccuracy, Tolerance.CountRatio);
    }

    [Fact]
    public void Bool_group_column_gives_False_then_True_and_the_same_numbers_as_an_integer_column()
    {
        var rows = Rows();
        foreach (var row in rows) row.GroupInt = row.GroupBool ? 1 : 0;
        var data = Load(mlContext, rows);

        var byBool = mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "GroupBool");
        var byInt = mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "GroupInt");

        Assert.Equal(["False", "True"], byBool.ByGroup.Select(g => g.Name));
        Assert.Equal(Accuracy(i => Groups[i] < 2), byBool.ByGroup[0].Accuracy, Tolerance.CountRatio);
        Assert.Equal(Accuracy(i => Groups[i] >= 2), byBool.ByGroup[1].Accuracy, Tolerance.CountRatio);
        Assert.Equal(Numbers(byInt), Numbers(byBool));
    }

    [Fact]
    public void Key_column_from_MapValueToKey_keeps_key_order_and_is_named_by_its_key_values()
    {
        // Default ordinality is by occurrence: the first row is waterbird/land, the second landbird/land.
        var data = mlContext.Transforms.Conversion.MapValueToKey("GroupMapped", "Group").Fit(Load(mlContext)).Transform(Load(mlContext));

        var byKey = mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "GroupMapped");
        var byString = mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "Group");

        Assert.Equal(["waterbird/land", "landbird/land", "landbird/water", "waterbird/water"], byKey.ByGroup.Select(g => g.Name));
        foreach (var group in byString.ByGroup)
        {
            var same = byKey.ByGroup.Single(g => g.Name == group.Name);
            Assert.Equal(group.RowCount, same.RowCount);
            Assert.Equal(group.Accuracy, same.Accuracy, Tolerance.CountRatio);
            Assert.Equal(group.PerClassAccuracy, same.PerClassAccuracy);
        }
        Assert.Equal(byString.WorstGroup, byKey.WorstGroup);
    }

    [Fact]
    public void Key_column_from_an_integer_or_bool_column_has_the_names_of_that_column()
    {
        var source = Load(mlContext);
        var data = mlContext.Transforms.Conversion.MapValueToKey("IntKey", "GroupInt")
            .Append(mlContext.Transforms.Conversion.MapValueToKey("BoolKey", "GroupBool"))
            .Fit(source).Transform(source);

        Assert.Equal(
            mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "GroupInt").ByGroup.Select(g => g.Name).Order(),
            mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "IntKey").ByGroup.Select(g => g.Name).Order());
        Assert.Equal(
            mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "GroupBool").ByGroup.Select(g => g.Name).Order(),
            mlContext.MulticlassClassification.EvaluateGroups(data, groupColumnName: "BoolKey").ByGroup.Select(g => g.Name).Order());
    }

    [Fact]
    public void A_key_value_without_rows_is_listed_apart_and_not_given_an_accuracy()
    {
        var rows = Rows().Where(r => r.GroupKey != 1).ToArray();
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext, rows), groupColumnName: "GroupKey");

        Assert.Equal(["0", "2", "3"], metrics.ByGroup.Select(g => g.Name));
        Assert.Equal(["1"], metrics.GroupsWithoutRows);
        Assert.Equal(new[] { 0, 2, 3 }.Select(g => Accuracy(i => Groups[i] == g)).Average(), metrics.MeanGroupAccuracy, Tolerance.CountRatio);
        Assert.Contains("(no rows", metrics.ToString());
    }

    [Fact]
    public void Reader_orders_strings_ordinally_and_integers_numerically()
    {
        var rows = new[] { "b", "B", "a", "b" }.Select((g, i) => new NameRow { Name = g, Number = new[] { 10, -3, 2, 10 }[i] }).ToArray();
        var data = mlContext.Data.LoadFromEnumerable(rows);

        var byName = GroupColumnReader.Read(data, "Name");
        Assert.Equal(["B", "a", "b"], byName.Names);
        Assert.Equal([2, 0, 1, 2], byName.Indices);

        var byNumber = GroupColumnReader.Read(data, "Number");
        Assert.Equal(["-3", "2", "10"], byNumber.Names);
        Assert.Equal([2, 0, 1, 2], byNumber.Indices);
    }

    private sealed class NameRow
    {
        public string Name { get; set; } = "";
        public int Number { get; set; }
    }

    /// <summary>Each group's row count, correct count and per-class accuracies, as text (names left out).</summary>
    private static IEnumerable<string> Numbers(GroupMetrics metrics)
        => metrics.ByGroup.Select(g => $"{g.RowCount} {g.CorrectCount} [{string.Join(", ", g.PerClassAccuracy.Values.Select(v => v.ToString("R")))}]");
}
