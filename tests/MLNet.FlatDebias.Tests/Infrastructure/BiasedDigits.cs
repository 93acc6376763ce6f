using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Transforms;

namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>
/// A small Waterbirds-like set built in the test from real MNIST digits: the label is digit &lt; 5 ("small") or
/// ≥ 5 ("large"), the spurious attribute the background colour (warm or cool, with per-pixel noise). In training the
/// background agrees with the label in <c>correlation</c> of the rows; in validation and test the four
/// (label, background) groups are equally large.
/// </summary>
internal static class BiasedDigits
{
    public const int Size = 28;
    public static readonly string[] Labels = ["small", "large"];
    public static readonly string[] Backgrounds = ["warm", "cool"];

    public sealed class Row
    {
        [VectorType(3, Size, Size)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public string Group { get; set; } = "";
    }

    /// <summary>Training rows from the MNIST training split (rows <paramref name="offset"/> on).</summary>
    public static List<Row> Train(int count, double correlation, int seed, int offset = 0)
    {
        var random = new Random(seed);
        var mnist = MnistData.Dataset;
        var rows = new List<Row>(count);
        for (int i = 0; i < count; i++)
        {
            int source = offset + i;
            int label = mnist.TrainLabels[source] < 5 ? 0 : 1;
            int background = random.NextDouble() < correlation ? label : 1 - label;
            rows.Add(Draw(mnist.TrainImages, source, label, background, random));
        }
        return rows;
    }

    /// <summary>Balanced rows: <paramref name="perGroup"/> per (label, background), from the MNIST test split
    /// (rows <paramref name="offset"/> on) or the training split.</summary>
    public static List<Row> Balanced(int perGroup, int seed, bool fromTestSplit, int offset = 0)
    {
        var random = new Random(seed);
        var mnist = MnistData.Dataset;
        var images = fromTestSplit ? mnist.TestImages : mnist.TrainImages;
        var labels = fromTestSplit ? mnist.TestLabels : mnist.TrainLabels;
        var rows = new List<Row>();
        var counts = new int[4];
        for (int source = offset; rows.Count < 4 * perGroup; source++)
        {
            int label = labels[source] < 5 ? 0 : 1;
            int background = counts[2 * label] <= counts[2 * label + 1] ? 0 : 1;
            if (counts[2 * label + background] >= perGroup) continue;
            counts[2 * label + background]++;
            rows.Add(Draw(images, source, label, background, random));
        }
        return rows;
    }

    public static IDataView ToDataView(MLContext ml, IEnumerable<Row> rows)
    {
        var data = ml.Data.LoadFromEnumerable(rows);
        var keys = ml.Data.LoadFromEnumerable(Labels.Select(l => new KeyRow { Value = l }));
        return ml.Transforms.Conversion.MapValueToKey("Label", keyData: keys).Fit(data).Transform(data);
    }

    private static Row Draw(byte[,,] images, int source, int label, int background, Random random)
    {
        // Warm: red-orange; cool: blue-green; each pixel jittered so the colour is easy but not a constant.
        float[] baseColour = background == 0 ? [0.8f, 0.4f, 0.2f] : [0.2f, 0.4f, 0.8f];
        var image = new float[3 * Size * Size];
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                float ink = images[source, y, x] / 255f;
                for (int c = 0; c < 3; c++)
                {
                    float back = Math.Clamp(baseColour[c] + (float)(random.NextDouble() - 0.5) * 0.3f, 0, 1);
                    image[(c * Size + y) * Size + x] = ink + (1 - ink) * back;
                }
            }
        return new Row { Features = image, Label = Labels[label], Group = $"{Labels[label]}/{Backgrounds[background]}" };
    }

    private sealed class KeyRow
    {
        public string Value { get; set; } = "";
    }
}
