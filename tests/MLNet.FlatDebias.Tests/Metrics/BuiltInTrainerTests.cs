using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Tests.Metrics;

/// <summary>EvaluateGroups on the output of an ML.NET built-in trainer: no torch involved.</summary>
public sealed class BuiltInTrainerTests
{
    private const int RowCount = 400;

    private sealed class BirdRow
    {
        public string Label { get; set; } = "";
        public string Group { get; set; } = "";
        [VectorType(2)] public float[] Features { get; set; } = [];
    }

    /// <summary>
    /// Waterbirds in miniature: the bird feature is weak and the place feature strong and usually agrees with the
    /// bird, so a linear model leans on the place and errs on the rare groups (landbird on water, waterbird on land).
    /// </summary>
    private static BirdRow[] Birds()
    {
        var random = new Random(42);
        return Enumerable.Range(0, RowCount).Select(_ =>
        {
            bool waterbird = random.NextDouble() < 0.5;
            bool onWater = random.NextDouble() < 0.85 ? waterbird : !waterbird;
            float bird = (waterbird ? 0.5f : -0.5f) + (float)(random.NextDouble() * 2 - 1);
            float place = (onWater ? 1f : -1f) + (float)(random.NextDouble() * 0.4 - 0.2);
            return new BirdRow
            {
                Label = waterbird ? "waterbird" : "landbird",
                Group = $"{(waterbird ? "waterbird" : "landbird")}/{(onWater ? "water" : "land")}",
                Features = [bird, place],
            };
        }).ToArray();
    }

    [Fact]
    public void Evaluates_LbfgsMaximumEntropy_output_against_an_oracle_from_the_PredictedLabel_column()
    {
        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(Birds());
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
        var scored = pipeline.Fit(data).Transform(data);

        var metrics = mlContext.MulticlassClassification.EvaluateGroups(scored);

        // The oracle: labels, predictions and groups read back from the scored data, masked per group.
        var labels = scored.GetColumn<uint>("Label").ToArray();
        var predictions = scored.GetColumn<uint>("PredictedLabel").ToArray();
        var groups = scored.GetColumn<string>("Group").ToArray();
        var names = groups.Distinct().Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(names, metrics.ByGroup.Select(g => g.Name));
        foreach (var group in metrics.ByGroup)
        {
            var rows = Enumerable.Range(0, labels.Length).Where(i => groups[i] == group.Name).ToArray();
            Assert.Equal(rows.Length, group.RowCount);
            Assert.Equal(rows.Average(i => labels[i] == predictions[i] ? 1.0 : 0.0), group.Accuracy, Tolerance.CountRatio);
            // Each group here holds one class, named by the label's key values.
            var bird = group.Name.Split('/')[0];
            Assert.Equal([bird], group.PerClassAccuracy.Keys);
            Assert.Equal(group.Accuracy, group.PerClassAccuracy[bird], Tolerance.CountRatio);
        }
        Assert.Equal(["landbird", "waterbird"], metrics.ClassNames);
        Assert.Equal(metrics.ByGroup.Min(g => g.Accuracy), metrics.WorstGroupAccuracy, Tolerance.CountRatio);
        Assert.Equal(labels.Zip(predictions).Average(p => p.First == p.Second ? 1.0 : 0.0), metrics.AverageAccuracy, Tolerance.CountRatio);

        // The spurious place feature makes a rare group the worst, well below the average.
        Assert.Contains(metrics.WorstGroup, new[] { "landbird/water", "waterbird/land" });
        Assert.True(metrics.WorstGroupAccuracy < metrics.AverageAccuracy);

        var expected = mlContext.MulticlassClassification.Evaluate(scored);
        Assert.Equal(expected.MicroAccuracy, metrics.Overall.MicroAccuracy, Tolerance.CountRatio);
        Assert.Equal(expected.MacroAccuracy, metrics.Overall.MacroAccuracy, Tolerance.CountRatio);
        Assert.Equal(expected.LogLoss, metrics.Overall.LogLoss, Tolerance.CountRatio);
        Assert.Equal(expected.ConfusionMatrix.Counts, metrics.Overall.ConfusionMatrix.Counts);
        Assert.Equal(metrics.Overall.MicroAccuracy, metrics.AverageAccuracy, Tolerance.CountRatio);

        var table = metrics.ToString();
        Assert.Contains("(per class: landbird  waterbird)", table);
        Assert.Contains($"Worst group: {metrics.WorstGroup}", table);
    }
}
