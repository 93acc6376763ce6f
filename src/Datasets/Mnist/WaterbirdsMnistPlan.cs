using System.Globalization;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>Which MNIST digit goes to which split, group and img_id in a <see cref="WaterbirdsMnist"/> folder.</summary>
internal static class WaterbirdsMnistPlan
{
    /// <summary>One planned image: its metadata row and the MNIST row it is drawn from.</summary>
    public sealed record Image(WaterbirdsMetadataRow Row, bool FromTestSplit, int SourceRow);

    /// <summary>The rows, img_id 1, 2, … in the order train, validation, test; each split shuffled.</summary>
    public static IReadOnlyList<Image> Make(MnistDataset mnist, int scaleDivisor, int seed)
    {
        var random = new Random(seed);
        var trainPools = ClassPools(mnist.TrainLabels, random);
        var testPools = ClassPools(mnist.TestLabels, random);
        var taken = new int[2];
        var images = new List<Image>();
        foreach (var split in new[] { WaterbirdsSplit.Train, WaterbirdsSplit.Validation, WaterbirdsSplit.Test })
        {
            bool fromTest = split == WaterbirdsSplit.Test;
            if (fromTest) taken = new int[2];
            var pools = fromTest ? testPools : trainPools;
            var counts = WaterbirdsMnist.GroupCounts(scaleDivisor, split);
            var rows = new List<(int Y, int Place, int Source)>();
            for (int g = 0; g < 4; g++)
            {
                int y = g / 2, place = g % 2;
                if (taken[y] + counts[g] > pools[y].Length)
                    throw new ArgumentOutOfRangeException(nameof(mnist), $"MNIST's {(fromTest ? "test" : "training")} split has {pools[y].Length} digits {(y == 0 ? "0-4" : "5-9")}, too few for the {split} split at scale divisor {scaleDivisor}.");
                for (int k = 0; k < counts[g]; k++) rows.Add((y, place, pools[y][taken[y]++]));
            }
            var order = ColoredMnist.Permutation(rows.Count, random);
            foreach (int i in order)
            {
                var (y, place, source) = rows[i];
                int id = images.Count + 1;
                int digit = (fromTest ? mnist.TestLabels : mnist.TrainLabels)[source];
                var filename = string.Create(CultureInfo.InvariantCulture, $"{digit + 1:000}.Digit_{digit}/Digit_{digit}_{(fromTest ? "t10k" : "train")}_{source:00000}.png");
                var placeFilename = (place == 1 ? "/o/ocean/texture_" : "/f/forest/broadleaf/texture_") + id.ToString("00000", CultureInfo.InvariantCulture);
                images.Add(new Image(new WaterbirdsMetadataRow(id, filename, y, split, place, placeFilename), fromTest, source));
            }
        }
        return images;
    }

    /// <summary>MNIST row indices of digits 0-4 and of digits 5-9, each in random order.</summary>
    private static int[][] ClassPools(byte[] labels, Random random)
    {
        var pools = new int[2][];
        for (int y = 0; y < 2; y++)
        {
            pools[y] = [.. Enumerable.Range(0, labels.Length).Where(i => (labels[i] >= 5 ? 1 : 0) == y)];
            ColoredMnist.Shuffle(pools[y], random);
        }
        return pools;
    }
}
