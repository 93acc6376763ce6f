using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using static MLNet.FlatDebias.Tests.Metrics.MetricsTestData;
using MLNet.FlatDebias.Metrics;

namespace MLNet.FlatDebias.Tests.Metrics;

public sealed class EvaluateGroupsTests
{
    private readonly MLContext mlContext = new(seed: 0);

    [Fact]
    public void Each_group_accuracy_equals_the_oracle_on_the_masked_subset()
    {
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext));

        Assert.Equal(GroupNames, metrics.ByGroup.Select(g => g.Name));
        for (int g = 0; g < GroupNames.Length; g++)
        {
            var row = metrics.ByGroup[g];
            Assert.Equal(Count(i => Groups[i] == g), row.RowCount);
            Assert.Equal(Accuracy(i => Groups[i] == g), row.Accuracy, Tolerance.CountRatio);
        }
    }

    [Fact]
    public void Per_class_accuracy_within_a_group_equals_the_oracle_and_absent_classes_are_absent()
    {
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext));

        Assert.Equal(["0", "1", "2"], metrics.ClassNames);
        for (int g = 0; g < GroupNames.Length; g++)
            for (int c = 0; c < ClassCount; c++)
            {
                int group = g, label = c;
                var perClass = metrics.ByGroup[g].PerClassAccuracy;
                if (Count(i => Groups[i] == group && Labels[i] == label) == 0)
                    Assert.False(perClass.ContainsKey(label.ToString()), $"class {label} has no row in group {GroupNames[g]}");
                else
                    Assert.Equal(Accuracy(i => Groups[i] == group && Labels[i] == label), perClass[label.ToString()], Tolerance.CountRatio);
            }
        Assert.DoesNotContain("1", metrics.ByGroup[3].PerClassAccuracy.Keys);
        Assert.Equal(["0", "2"], metrics.ByGroup[3].PerClassAccuracy.Keys);
    }

    [Fact]
    public void Summaries_equal_the_oracle()
    {
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext));

        var groupAccuracies = Enumerable.Range(0, GroupNames.Length).Select(g => Accuracy(i => Groups[i] == g)).ToArray();
        int worst = Array.IndexOf(groupAccuracies, groupAccuracies.Min());
        Assert.Equal(groupAccuracies.Min(), metrics.WorstGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(GroupNames[worst], metrics.WorstGroup);
        Assert.Equal(groupAccuracies.Average(), metrics.MeanGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(Accuracy(_ => true), metrics.AverageAccuracy, Tolerance.CountRatio);
        Assert.True(Math.Abs(metrics.AverageAccuracy - metrics.MeanGroupAccuracy) > 1e-3, "the pooled and the group-mean accuracy differ on this set");

        var classAccuracies = Enumerable.Range(0, ClassCount).Select(c => Accuracy(i => Labels[i] == c)).ToArray();
        Assert.Equal(classAccuracies.Min(), metrics.WorstClassAccuracy, Tolerance.CountRatio);
        Assert.Equal(Array.IndexOf(classAccuracies, classAccuracies.Min()).ToString(), metrics.WorstClass);
        for (int c = 0; c < ClassCount; c++) Assert.Equal(classAccuracies[c], metrics.PerClassAccuracy[c.ToString()], Tolerance.CountRatio);

        Assert.Null(metrics.AdjustedAverageAccuracy);
        Assert.Null(metrics.GroupWeights);
        Assert.Empty(metrics.GroupsWithoutRows);
    }

    [Fact]
    public void Hand_computed_numbers_of_the_hand_written_data()
    {
        // Counted by hand from MetricsTestData: landbird/land 3 of 6 right, landbird/water 4 of 6,
        // waterbird/land 7 of 8, waterbird/water 4 of 6; 18 of 26 in all.
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext));

        Assert.Equal([6, 6, 8, 6], metrics.ByGroup.Select(g => g.RowCount));
        Assert.Equal([3, 4, 7, 4], metrics.ByGroup.Select(g => g.CorrectCount));
        Assert.Equal("landbird/land", metrics.WorstGroup);
        Assert.Equal(0.5, metrics.WorstGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal((3.0 / 6 + 4.0 / 6 + 7.0 / 8 + 4.0 / 6) / 4, metrics.MeanGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(18.0 / 26, metrics.AverageAccuracy, Tolerance.CountRatio);
    }

    [Fact]
    public void Overall_equals_MLNet_Evaluate_on_the_same_data()
    {
        var data = Load(mlContext);
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(data);
        var expected = mlContext.MulticlassClassification.Evaluate(data);

        Assert.Equal(expected.MicroAccuracy, metrics.Overall.MicroAccuracy, Tolerance.CountRatio);
        Assert.Equal(expected.MacroAccuracy, metrics.Overall.MacroAccuracy, Tolerance.CountRatio);
        Assert.Equal(expected.LogLoss, metrics.Overall.LogLoss, Tolerance.CountRatio);
        Assert.Equal(expected.LogLossReduction, metrics.Overall.LogLossReduction, Tolerance.CountRatio);
        Assert.Equal(expected.PerClassLogLoss, metrics.Overall.PerClassLogLoss);
        Assert.Equal(expected.ConfusionMatrix.Counts, metrics.Overall.ConfusionMatrix.Counts);
        // The scores' arg-max is the predicted label here, so ML.NET's micro accuracy is our average accuracy.
        Assert.Equal(metrics.Overall.MicroAccuracy, metrics.AverageAccuracy, Tolerance.CountRatio);
    }

    [Fact]
    public void Table_has_one_row_per_group_and_the_summaries()
    {
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext));
        var lines = metrics.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

        Assert.Equal(metrics.GetFormattedGroupTable(), metrics.ToString());
        Assert.Equal(1 + GroupNames.Length + 2, lines.Length);
        Assert.Matches(@"^Group\s+Rows\s+Accuracy\s+\(per class:\s+0\s+1\s+2\)$", lines[0]);
        Assert.Matches(@"^landbird/land\s+6\s+0\.5000\s+\d\.\d{4}\s+\d\.\d{4}\s+\d\.\d{4}$", lines[1]);
        Assert.Matches(@"^waterbird/water\s+6\s+0\.6667\s+\d\.\d{4}\s+-\s+\d\.\d{4}$", lines[4]);
        Assert.StartsWith("Worst group: landbird/land (0.5000)   Mean group accuracy: 0.6771   Average accuracy: 0.6923   Adjusted average: -", lines[5]);
        Assert.StartsWith("Worst class: ", lines[6]);
        // Columns line up: every group row is as long as the header.
        Assert.All(lines[1..5], l => Assert.Equal(lines[0].Length - 1, l.Length));
    }

    [Fact]
    public void Classes_are_named_by_the_label_key_values()
    {
        var source = Load(mlContext);
        var data = mlContext.Transforms.Conversion.MapValueToKey("LabelKey", "LabelText").Fit(source).Transform(source);

        var metrics = mlContext.MulticlassClassification.EvaluateGroups(data, labelColumnName: "LabelKey");

        Assert.Equal(ClassTexts, metrics.ClassNames);
        Assert.Equal(["c0", "c2"], metrics.ByGroup[3].PerClassAccuracy.Keys);
        Assert.Equal(Accuracy(i => Groups[i] == 3 && Labels[i] == 2), metrics.ByGroup[3].PerClassAccuracy["c2"], Tolerance.CountRatio);
        Assert.Contains("(per class:     c0      c1      c2)", metrics.ToString());
    }
}
