using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>
/// A small biased set of feature vectors built in code, standing in for a frozen pretrained network's features: a
/// one-dimensional Single vector of <see cref="Size"/> values with no image dimensions. Feature 0 carries a spurious
/// attribute (its sign, almost noiseless), feature 1 the label (its sign, under Gaussian noise of standard deviation
/// <see cref="SignalNoise"/>), the rest are noise. In the training rows the attribute agrees with the label with
/// probability <c>correlation</c>; <see cref="Groups"/> gives every (label, attribute) group the same number of rows.
/// Groups are <c>label/attribute</c>.
/// </summary>
internal static class BiasedFeatureVectors
{
    public const int Size = 32;

    /// <summary>The label feature's noise: the label alone predicts about 89 % of rows (P(N(1, 0.8) &gt; 0)).</summary>
    public const double SignalNoise = 0.8;

    public static readonly string[] Labels = ["cat", "dog"];
    public static readonly string[] Attributes = ["indoor", "outdoor"];

    public sealed class Row
    {
        [VectorType(Size)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public string Group { get; set; } = "";
    }

    /// <summary>Rows whose attribute agrees with the label with probability <paramref name="correlation"/>.</summary>
    public static List<Row> Rows(int count, double correlation, int seed)
    {
        var random = new Random(seed);
        var rows = new List<Row>(count);
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(2);
            int attribute = random.NextDouble() < correlation ? label : 1 - label;
            rows.Add(Draw(random, label, attribute));
        }
        return rows;
    }

    /// <summary>Rows with exactly <paramref name="perGroup"/> rows per (label, attribute) group, shuffled.</summary>
    public static List<Row> Groups(int perGroup, int seed)
    {
        var random = new Random(seed);
        var rows = new List<Row>();
        for (int label = 0; label < 2; label++)
            for (int attribute = 0; attribute < 2; attribute++)
                for (int i = 0; i < perGroup; i++)
                    rows.Add(Draw(random, label, attribute));
        return rows.OrderBy(_ => random.Next()).ToList();
    }

    /// <summary>A data view with <c>Label</c> mapped to a key (cat = key 1, dog = key 2).</summary>
    public static IDataView ToDataView(MLContext ml, IEnumerable<Row> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Data.LoadFromEnumerable(Labels.Select(l => new KeyRow { Value = l }));
        return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
    }

    private static Row Draw(Random random, int label, int attribute)
    {
        var features = new float[Size];
        for (int i = 0; i < Size; i++) features[i] = (float)(0.5 * Gaussian(random));
        features[0] = (float)((2 * attribute - 1) + 0.1 * Gaussian(random));
        features[1] = (float)((2 * label - 1) + SignalNoise * Gaussian(random));
        return new Row { Features = features, Label = Labels[label], Group = $"{Labels[label]}/{Attributes[attribute]}" };
    }

    private static double Gaussian(Random random)
        => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private sealed class KeyRow
    {
        public string Value { get; set; } = "";
    }
}
