using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using static MLNet.FlatDebias.Tests.Metrics.MetricsTestData;
using MLNet.FlatDebias.Metrics;

namespace MLNet.FlatDebias.Tests.Metrics;

public sealed class GroupWeightsTests
{

    // Waterbirds' training set (Sagawa et al. 2020): rows per group.
    private const int LandbirdOnLand = 3498;
    private const int LandbirdOnWater = 184;
    private const int WaterbirdOnLand = 56;
    private const int WaterbirdOnWater = 1057;
    private const int TrainRows = LandbirdOnLand + LandbirdOnWater + WaterbirdOnLand + WaterbirdOnWater;

    private readonly MLContext mlContext = new(seed: 0);

    private sealed class TrainRow
    {
        public string Group { get; set; } = "";
        public int Place { get; set; }
    }

    private IDataView WaterbirdsTrainGroups()
    {
        var counts = new[] { LandbirdOnLand, LandbirdOnWater, WaterbirdOnLand, WaterbirdOnWater };
        // Interleave the groups so that no group is one contiguous block.
        var rows = Enumerable.Range(0, 4).SelectMany(g => Enumerable.Range(0, counts[g]).Select(i => (g, i)))
            .OrderBy(t => (t.i * 7919 + t.g) % 104729)
            .Select(t => new TrainRow { Group = GroupNames[t.g], Place = t.g % 2 })
            .ToArray();
        return mlContext.Data.LoadFromEnumerable(rows);
    }

    [Fact]
    public void ComputeGroupWeights_gives_the_training_proportions_summing_to_1()
    {
        var weights = mlContext.MulticlassClassification.ComputeGroupWeights(WaterbirdsTrainGroups());

        Assert.Equal(GroupNames, weights.Keys);
        Assert.Equal(3498.0 / 4795, weights["landbird/land"], Tolerance.CountRatio);
        Assert.Equal(184.0 / 4795, weights["landbird/water"], Tolerance.CountRatio);
        Assert.Equal(56.0 / 4795, weights["waterbird/land"], Tolerance.CountRatio);
        Assert.Equal(1057.0 / 4795, weights["waterbird/water"], Tolerance.CountRatio);
        Assert.Equal(1.0, weights.Values.Sum(), Tolerance.CountRatio);
        Assert.Equal(4795, TrainRows);
    }

    [Fact]
    public void Adjusted_average_weights_group_accuracies_by_the_training_proportions()
    {
        var weights = mlContext.MulticlassClassification.ComputeGroupWeights(WaterbirdsTrainGroups());
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: weights);

        // By hand: test accuracies 3/6, 4/6, 7/8, 4/6 weighted by 3498, 184, 56, 1057 out of 4795.
        double expected = (3498 * (3.0 / 6) + 184 * (4.0 / 6) + 56 * (7.0 / 8) + 1057 * (4.0 / 6)) / 4795;
        Assert.Equal(0.547515, expected, 5e-7); // the literal is written to 6 decimals: half a unit of its last digit
        Assert.Equal(expected, metrics.AdjustedAverageAccuracy!.Value, Tolerance.CountRatio);
        Assert.Equal(weights, metrics.GroupWeights);
        Assert.Contains("Adjusted average: 0.5475", metrics.ToString());
    }

    [Fact]
    public void Group_weights_are_renormalised_so_raw_counts_give_the_same_adjusted_average()
    {
        var counts = new Dictionary<string, double>
        {
            ["waterbird/water"] = WaterbirdOnWater, ["landbird/land"] = LandbirdOnLand,
            ["waterbird/land"] = WaterbirdOnLand, ["landbird/water"] = LandbirdOnWater,
        };
        var shares = mlContext.MulticlassClassification.ComputeGroupWeights(WaterbirdsTrainGroups());

        var fromCounts = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: counts);
        var fromShares = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: shares);

        Assert.Equal(fromShares.AdjustedAverageAccuracy!.Value, fromCounts.AdjustedAverageAccuracy!.Value, Tolerance.CountRatio);
        Assert.Equal(1.0, fromCounts.GroupWeights!.Values.Sum(), Tolerance.CountRatio);
        Assert.Equal(GroupNames, fromCounts.GroupWeights.Keys);
    }

    [Fact]
    public void Equal_weights_give_the_mean_group_accuracy()
    {
        var equal = GroupNames.ToDictionary(n => n, _ => 1.0);
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: equal);

        Assert.Equal(metrics.MeanGroupAccuracy, metrics.AdjustedAverageAccuracy!.Value, Tolerance.CountRatio);
    }

    [Fact]
    public void Weights_from_a_key_group_column_are_keyed_by_the_names_EvaluateGroups_uses()
    {
        var train = mlContext.Transforms.Conversion.MapValueToKey("GroupKey", "Group").Fit(WaterbirdsTrainGroups()).Transform(WaterbirdsTrainGroups());
        var byKey = mlContext.MulticlassClassification.ComputeGroupWeights(train, "GroupKey");
        var byPlace = mlContext.MulticlassClassification.ComputeGroupWeights(train, "Place");

        Assert.Equal(GroupNames.Order(), byKey.Keys.Order());
        Assert.Equal(1057.0 / 4795, byKey["waterbird/water"], Tolerance.CountRatio);
        Assert.Equal(["0", "1"], byPlace.Keys);
        Assert.Equal((3498.0 + 56) / 4795, byPlace["0"], Tolerance.CountRatio);
        var metrics = mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: byKey);
        Assert.NotNull(metrics.AdjustedAverageAccuracy);
    }

    [Fact]
    public void A_weight_for_a_group_that_does_not_occur_is_an_error_naming_it()
    {
        var weights = GroupNames.ToDictionary(n => n, _ => 1.0);
        weights["penguin/ice"] = 1.0;

        var e = Assert.Throws<ArgumentException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: weights));
        Assert.Contains("'penguin/ice'", e.Message);
        Assert.Contains("'Group'", e.Message);
        Assert.Equal("groupWeights", e.ParamName);
    }

    [Fact]
    public void A_group_that_occurs_without_a_weight_is_an_error_naming_it()
    {
        var weights = GroupNames.Where(n => n != "waterbird/land").ToDictionary(n => n, _ => 1.0);

        var e = Assert.Throws<ArgumentException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: weights));
        Assert.Contains("'waterbird/land'", e.Message);
        Assert.Contains("no weight", e.Message);
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_negative_or_non_finite_weight_is_an_error_naming_the_group(double bad)
    {
        var weights = GroupNames.ToDictionary(n => n, _ => 1.0);
        weights["landbird/water"] = bad;

        var e = Assert.Throws<ArgumentException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: weights));
        Assert.Contains("'landbird/water'", e.Message);
    }

    [Fact]
    public void All_zero_weights_are_an_error()
    {
        var weights = GroupNames.ToDictionary(n => n, _ => 0.0);

        Assert.Throws<ArgumentException>(() => mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext), groupWeights: weights));
    }

    [Fact]
    public void A_weight_for_a_key_value_without_rows_is_an_error_naming_it()
    {
        var rows = Rows().Where(r => r.GroupKey != 1).ToArray();
        var weights = new Dictionary<string, double> { ["0"] = 1, ["1"] = 1, ["2"] = 1, ["3"] = 1 };

        var e = Assert.Throws<ArgumentException>(() =>
            mlContext.MulticlassClassification.EvaluateGroups(Load(mlContext, rows), groupColumnName: "GroupKey", groupWeights: weights));
        Assert.Contains("'1'", e.Message);
    }
}
