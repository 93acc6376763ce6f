using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Metrics;
using static MLNet.FlatDebias.Tests.Metrics.MetricsTestData;

namespace MLNet.FlatDebias.Tests.Metrics;

/// <summary>The torch-free form the trainer calls on its validation predictions.</summary>
public sealed class GroupAccuracySummaryTests
{

    [Fact]
    public void Compute_matches_the_oracle_on_the_masked_subsets()
    {
        var summary = GroupAccuracySummary.Compute(Labels, Predictions, Groups, GroupNames, ClassCount);

        Assert.Equal(Labels.Length, summary.RowCount);
        for (int g = 0; g < GroupNames.Length; g++)
        {
            int group = g;
            Assert.Equal(Count(i => Groups[i] == group), summary.GroupRowCounts[g]);
            Assert.Equal(Accuracy(i => Groups[i] == group), summary.GroupAccuracies[g], Tolerance.CountRatio);
        }
        Assert.Equal(0, summary.WorstGroup);
        Assert.Equal(Accuracy(i => Groups[i] == 0), summary.WorstGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(Accuracy(_ => true), summary.AverageAccuracy, Tolerance.CountRatio);
        var classAccuracies = Enumerable.Range(0, ClassCount).Select(c => Accuracy(i => Labels[i] == c)).ToArray();
        Assert.Equal(classAccuracies.Min(), summary.WorstClassAccuracy, Tolerance.CountRatio);
        Assert.Equal(Array.IndexOf(classAccuracies, classAccuracies.Min()), summary.WorstClass);
        Assert.True(double.IsNaN(summary.GroupClassAccuracy(3, 1)));
        Assert.Equal(0, summary.GroupClassRowCount(3, 1));
    }

    [Fact]
    public void A_group_with_no_rows_has_NaN_accuracy_and_is_left_out_of_the_summaries()
    {
        int[] labels = [0, 1, 0, 1];
        int[] predictions = [0, 1, 1, 1];
        int[] groups = [0, 0, 2, 2];

        var summary = GroupAccuracySummary.Compute(labels, predictions, groups, ["a", "b", "c"], 2);

        Assert.False(summary.HasRows(1));
        Assert.True(double.IsNaN(summary.GroupAccuracies[1]));
        Assert.Equal(2, summary.WorstGroup);
        Assert.Equal(0.5, summary.WorstGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(0.75, summary.MeanGroupAccuracy, Tolerance.CountRatio);
        Assert.Throws<ArgumentException>(() => summary.WeightedAccuracy([1.0, 1.0, 1.0]));
        // Group a: 2 of 2 right; group c: 1 of 2.
        Assert.Equal(0.4 * 1.0 + 0.6 * 0.5, summary.WeightedAccuracy([0.4, 0.0, 0.6]), Tolerance.CountRatio);
        Assert.Equal(0.4 * 1.0 + 0.6 * 0.5, summary.WeightedAccuracy([2.0, 0.0, 3.0]), Tolerance.CountRatio);
    }

    [Fact]
    public void Ties_go_to_the_first_group()
    {
        var summary = GroupAccuracySummary.Compute([0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 1], ["a", "b"], 2);

        Assert.Equal(0, summary.WorstGroup);
        Assert.Equal(0.5, summary.WorstGroupAccuracy, Tolerance.CountRatio);
    }

    [Fact]
    public void Out_of_range_values_and_mismatched_lengths_are_errors_naming_the_row()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => GroupAccuracySummary.Compute([0, 2], [0, 0], [0, 0], ["a"], 2));
        Assert.Contains("Row 1", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => GroupAccuracySummary.Compute([0, 1], [0, -1], [0, 0], ["a"], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => GroupAccuracySummary.Compute([0, 1], [0, 1], [0, 1], ["a"], 2));
        Assert.Throws<ArgumentException>(() => GroupAccuracySummary.Compute([0, 1], [0], [0, 0], ["a"], 2));
        Assert.Throws<ArgumentException>(() => GroupAccuracySummary.Compute([], [], [], ["a"], 2));
    }
}
