using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>
/// A small biased image set built in code: the label is the orientation of a bar (horizontal or vertical), the
/// spurious attribute its colour (red or green). In the training rows colour and label agree with probability
/// <c>correlation</c>; validation and test rows have colour independent of the label. Groups are
/// <c>orientation/colour</c>.
/// </summary>
internal static class BiasedShapes
{
    public const int Size = 12;
    public static readonly string[] Labels = ["horizontal", "vertical"];
    public static readonly string[] Colours = ["red", "green"];

    public sealed class Row
    {
        [VectorType(3, Size, Size)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public string Group { get; set; } = "";

        public float Weight { get; set; } = 1;
    }

    /// <summary>Rows in memory.</summary>
    public static List<Row> Rows(int count, double correlation, int seed, double noise = 0.35)
    {
        var random = new Random(seed);
        var rows = new List<Row>(count);
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(2);
            int colour = random.NextDouble() < correlation ? label : 1 - label;
            rows.Add(Draw(random, label, colour, noise));
        }
        return rows;
    }

    /// <summary>Rows with an exact number per (label, colour) group.</summary>
    public static List<Row> Groups(int perGroup, int seed, double noise = 0.35)
    {
        var random = new Random(seed);
        var rows = new List<Row>();
        for (int label = 0; label < 2; label++)
            for (int colour = 0; colour < 2; colour++)
                for (int i = 0; i < perGroup; i++)
                    rows.Add(Draw(random, label, colour, noise));
        return rows.OrderBy(_ => random.Next()).ToList();
    }

    /// <summary>A data view with <c>Label</c> mapped to a key (horizontal = key 1, vertical = key 2).</summary>
    public static IDataView ToDataView(MLContext ml, IEnumerable<Row> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Data.LoadFromEnumerable(Labels.Select(l => new KeyRow { Value = l }));
        return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
    }

    private static Row Draw(Random random, int label, int colour, double noise)
    {
        var image = new float[3 * Size * Size];
        for (int i = 0; i < image.Length; i++) image[i] = (float)(random.NextDouble() * noise);
        int position = random.Next(2, Size - 2);
        int start = random.Next(0, 4), length = random.Next(6, Size - start + 1);
        int channel = colour == 0 ? 0 : 1;
        for (int t = start; t < Math.Min(Size, start + length); t++)
        {
            int y = label == 0 ? position : t, x = label == 0 ? t : position;
            image[channel * Size * Size + y * Size + x] = 1f;
        }
        return new Row { Features = image, Label = Labels[label], Group = $"{Labels[label]}/{Colours[colour]}" };
    }

    private sealed class KeyRow
    {
        public string Value { get; set; } = "";
    }
}
