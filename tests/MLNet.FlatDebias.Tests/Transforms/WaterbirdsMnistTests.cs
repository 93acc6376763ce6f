using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Mnist;
using SkiaSharp;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Tests.Transforms;

public sealed class WaterbirdsMnistTests : IDisposable
{
    private const int Divisor = 20;
    private const int Size = 32;
    private readonly TempFolder _folder = new("flatdebias-waterbirds-mnist");
    private readonly MLContext _ml = new(seed: 0);

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Group_counts_follow_waterbirds_scaled_and_evaluation_splits_are_balanced_within_each_class()
    {
        var root = WaterbirdsMnist.Write(_folder.Combine("wb"), MnistData.Dataset, Divisor, seed: 1, imageSize: Size);

        var train = Rows(root, WaterbirdsSplit.Train);
        int[] expectedTrain = [.. new[] { 3498, 184, 56, 1057 }.Select(n => (int)Math.Round(n / (double)Divisor, MidpointRounding.AwayFromZero))];
        Assert.Equal([175, 9, 3, 53], expectedTrain);
        Assert.Equal(expectedTrain, GroupCounts(train));
        Assert.Equal(expectedTrain, WaterbirdsMnist.GroupCounts(Divisor, WaterbirdsSplit.Train));
        double aligned = train.Count(r => r.Group is 1 or 4) / (double)train.Count;
        Assert.InRange(aligned, 0.94, 0.96);

        foreach (var (split, total) in new[] { (WaterbirdsSplit.Validation, 1199), (WaterbirdsSplit.Test, 5794) })
        {
            var counts = GroupCounts(Rows(root, split));
            Assert.True(Math.Abs(counts[0] - counts[1]) <= 1 && Math.Abs(counts[2] - counts[3]) <= 1, $"{split}: {string.Join(",", counts)}");
            Assert.InRange(counts.Sum(), total / Divisor - 2, total / Divisor + 2);
            Assert.Equal(WaterbirdsMnist.GroupCounts(Divisor, split), counts);
        }
        Assert.Equal([47, 47, 13, 13], WaterbirdsMnist.GroupCounts(10, WaterbirdsSplit.Validation));
        Assert.Equal(580, WaterbirdsMnist.GroupCounts(10, WaterbirdsSplit.Test).Sum());
    }

    [Fact]
    public void Folder_is_in_the_waterbirds_layout_with_labels_from_the_digits()
    {
        var mnist = MnistData.Dataset;
        var root = WaterbirdsMnist.Write(_folder.Combine("wb"), mnist, 50, seed: 2, imageSize: Size);
        var lines = File.ReadAllLines(Path.Combine(root, "metadata.csv"));
        Assert.Equal("img_id,img_filename,y,split,place,place_filename", lines[0]);
        var fields = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(Enumerable.Range(1, fields.Count).Select(i => i.ToString()), fields.Select(f => f[0]));
        foreach (var f in fields)
        {
            // img_filename is "{digit+1:000}.Digit_{digit}/Digit_{digit}_{train|t10k}_{row}.png".
            int digit = f[1][0..3] switch { var s => int.Parse(s) - 1 };
            Assert.Equal(digit >= 5 ? "1" : "0", f[2]);
            var source = f[1].Split('_')[^1][..^4];
            Assert.Equal(digit, (f[1].Contains("_t10k_") ? mnist.TestLabels : mnist.TrainLabels)[int.Parse(source)]);
            Assert.Equal(f[3] == "2", f[1].Contains("_t10k_"));
            Assert.StartsWith(f[4] == "1" ? "/o/ocean/" : "/f/forest/", f[5]);
        }
        using var codec = SKCodec.Create(Path.Combine(root, fields[0][1]));
        Assert.Equal((Size, Size), (codec.Info.Width, codec.Info.Height));
    }

    [Fact]
    public void Backgrounds_tell_the_place_apart_but_vary_from_image_to_image()
    {
        var root = WaterbirdsMnist.Write(_folder.Combine("wb"), MnistData.Dataset, Divisor, seed: 3, imageSize: Size);
        var rows = Rows(root, WaterbirdsSplit.Test);
        var corner = new Dictionary<uint, List<(int R, int G, int B)>> { [1] = [], [2] = [] };
        foreach (var row in rows)
        {
            using var bitmap = SKBitmap.Decode(row.Path);
            var c = bitmap.GetPixel(1, 1);  // the digit never reaches the corner
            corner[row.Place].Add((c.Red, c.Green, c.Blue));
        }
        Assert.All(corner[2], c => Assert.True(c.B > c.R, $"water corner {c} should be blue"));
        Assert.All(corner[1], c => Assert.True(c.G >= c.B, $"land corner {c} should be green or brown"));
        Assert.True(corner[1].Distinct().Count() > corner[1].Count / 2);
        Assert.True(corner[2].Distinct().Count() > corner[2].Count / 2);
    }

    [Fact]
    public void Same_seed_writes_identical_files_and_a_complete_folder_is_not_rewritten()
    {
        var mnist = MnistData.Dataset;
        var a = WaterbirdsMnist.Write(_folder.Combine("a"), mnist, 50, seed: 4, imageSize: Size);
        var b = WaterbirdsMnist.Write(_folder.Combine("b"), mnist, 50, seed: 4, imageSize: Size);
        var files = Directory.GetFiles(a, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a, f)).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(b, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b, f)).Order());
        Assert.All(files, f => Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f))));

        var metadata = Path.Combine(a, "metadata.csv");
        var written = File.GetLastWriteTimeUtc(metadata);
        File.SetLastWriteTimeUtc(metadata, written.AddHours(-1));
        WaterbirdsMnist.Write(a, mnist, 50, seed: 4, imageSize: Size);
        Assert.Equal(written.AddHours(-1), File.GetLastWriteTimeUtc(metadata));

        // Another seed replaces the folder; a missing image makes it incomplete, so it is written again.
        WaterbirdsMnist.Write(a, mnist, 50, seed: 5, imageSize: Size);
        Assert.NotEqual(File.ReadAllText(Path.Combine(b, "metadata.csv")), File.ReadAllText(metadata));
        File.Delete(Path.Combine(a, File.ReadAllLines(metadata)[1].Split(',')[1]));
        WaterbirdsMnist.Write(a, mnist, 50, seed: 5, imageSize: Size);
        Assert.Equal(Rows(a, null).Count, Rows(a, null).Count(r => File.Exists(r.Path)));
        Assert.Empty(Directory.GetDirectories(_folder.Path, ".*partial*"));
    }

    [Fact]
    public void Loader_and_preprocessing_read_it_like_waterbirds()
    {
        var root = WaterbirdsMnist.Write(_folder.Combine("wb"), MnistData.Dataset, 100, seed: 6, imageSize: Size);
        var data = _ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Validation);
        var features = _ml.Transforms.ImageNetPreprocessing(resize: 36, crop: Size).Fit(data).Transform(data).GetColumn<float[]>("Features").ToList();
        Assert.Equal(WaterbirdsMnist.GroupCounts(100, WaterbirdsSplit.Validation).Sum(), features.Count);
        Assert.All(features, f => Assert.Equal(3 * Size * Size, f.Length));
    }

    [Fact]
    public void Foreign_folder_and_bad_arguments_are_refused()
    {
        var mnist = MnistData.Dataset;
        var foreign = _folder.Combine("mine");
        Directory.CreateDirectory(foreign);
        File.WriteAllText(Path.Combine(foreign, "notes.txt"), "keep me");
        var e = Assert.Throws<IOException>(() => WaterbirdsMnist.Write(foreign, mnist, 50, imageSize: Size));
        Assert.Contains(foreign, e.Message);
        Assert.True(File.Exists(Path.Combine(foreign, "notes.txt")));
        Assert.Equal("scaleDivisor", Assert.Throws<ArgumentOutOfRangeException>(() => WaterbirdsMnist.Write(_folder.Combine("x"), mnist, 0)).ParamName);
        Assert.Equal("imageSize", Assert.Throws<ArgumentOutOfRangeException>(() => WaterbirdsMnist.Write(_folder.Combine("x"), mnist, 10, imageSize: 8)).ParamName);
        var tiny = new MnistDataset(new byte[4, 28, 28], [0, 1, 5, 6], new byte[2, 28, 28], [0, 9]);
        Assert.Throws<ArgumentOutOfRangeException>(() => WaterbirdsMnist.Write(_folder.Combine("x"), tiny, 100));
    }

    private List<WaterbirdsLoaderTests.Row> Rows(string root, WaterbirdsSplit? split) => WaterbirdsLoaderTests.ReadRows(_ml.Data.LoadWaterbirds(root, split));

    private static int[] GroupCounts(List<WaterbirdsLoaderTests.Row> rows) => [.. Enumerable.Range(1, 4).Select(g => rows.Count(r => r.Group == g))];
}
