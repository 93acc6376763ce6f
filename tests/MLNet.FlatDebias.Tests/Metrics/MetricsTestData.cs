using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Tests.Metrics;

/// <summary>
/// Hand-written scored rows: 3 classes, 4 groups of unequal size, one group (waterbird/water) without class 1.
/// The same group is written as key, string, integer, long, byte and bool columns.
/// </summary>
internal static class MetricsTestData
{
    public const int ClassCount = 3;

    public static readonly string[] GroupNames = ["landbird/land", "landbird/water", "waterbird/land", "waterbird/water"];

    public static readonly int[] Labels = [0, 0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 1, 2, 2, 0, 2, 1, 0, 2, 0, 1, 2, 0, 1, 0];
    public static readonly int[] Predictions = [0, 1, 1, 2, 0, 0, 2, 0, 1, 0, 2, 1, 2, 2, 1, 0, 2, 1, 2, 2, 0, 0, 2, 0, 1, 0];
    public static readonly int[] Groups = [2, 0, 1, 3, 0, 1, 2, 0, 2, 3, 1, 0, 2, 1, 3, 0, 2, 1, 3, 0, 2, 1, 3, 3, 2, 2];

    public static readonly string[] ClassTexts = ["c0", "c1", "c2"];

    /// <summary>
    /// One scored row. ML.NET's <c>LoadFromEnumerable</c> reads a <c>[KeyType]</c> property as the zero-based
    /// index (it stores index + 1, 0 being the missing key), so keys are written here as indices.
    /// </summary>
    public sealed class Row
    {
        [KeyType(ClassCount)] public uint Label { get; set; }
        [KeyType(ClassCount)] public uint PredictedLabel { get; set; }
        [VectorType(ClassCount)] public float[] Score { get; set; } = [];
        public string Group { get; set; } = "";
        [KeyType(4)] public uint GroupKey { get; set; }
        public int GroupInt { get; set; }
        public long GroupLong { get; set; }
        public byte GroupByte { get; set; }
        public bool GroupBool { get; set; }
        public float GroupFloat { get; set; }
        public float LabelFloat { get; set; }
        public string LabelText { get; set; } = "";
    }

    /// <summary>The scores of a row predicted as <paramref name="predicted"/>: 0.7 there, 0.15 elsewhere, so the arg-max is the prediction.</summary>
    public static float[] ScoreFor(int predicted)
    {
        var score = Enumerable.Repeat(0.15f, ClassCount).ToArray();
        score[predicted] = 0.7f;
        return score;
    }

    public static Row[] Rows() => Enumerable.Range(0, Labels.Length).Select(i =>
    {
        int g = Groups[i];
        return new Row
        {
            Label = (uint)Labels[i],
            PredictedLabel = (uint)Predictions[i],
            Score = ScoreFor(Predictions[i]),
            Group = GroupNames[g],
            GroupKey = (uint)g,
            GroupInt = 10 * g + 3,
            GroupLong = g - 2,
            GroupByte = (byte)g,
            GroupBool = g >= 2,
            GroupFloat = g,
            LabelFloat = Labels[i],
            LabelText = ClassTexts[Labels[i]],
        };
    }).ToArray();

    public static IDataView Load(MLContext mlContext, Row[]? rows = null) => mlContext.Data.LoadFromEnumerable(rows ?? Rows());

    /// <summary>The oracle: accuracy of the rows selected by <paramref name="mask"/>, computed directly on the arrays.</summary>
    public static double Accuracy(Func<int, bool> mask)
    {
        int rows = 0, correct = 0;
        for (int i = 0; i < Labels.Length; i++)
        {
            if (!mask(i)) continue;
            rows++;
            if (Labels[i] == Predictions[i]) correct++;
        }
        Assert.True(rows > 0, "the oracle's mask selects no row");
        return (double)correct / rows;
    }

    public static int Count(Func<int, bool> mask) => Enumerable.Range(0, Labels.Length).Count(mask);
}
