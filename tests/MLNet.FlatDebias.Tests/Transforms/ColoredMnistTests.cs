using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Metrics;

namespace MLNet.FlatDebias.Tests.Transforms;

public sealed class ColoredMnistTests
{
    [Theory]
    [InlineData(0.005)]
    [InlineData(0.01)]
    [InlineData(0.02)]
    [InlineData(0.05)]
    public void Conflicting_share_is_exact_in_every_training_class(double share)
    {
        var splits = ColoredMnist.Create(MnistData.Dataset, share, seed: 3, trainSize: 20000, validationSize: 2000, testSize: 2000);
        var train = splits.Train;
        Assert.Equal(20000, train.Count);
        for (int digit = 0; digit < 10; digit++)
        {
            var rows = Enumerable.Range(0, train.Count).Where(i => train.Digits[i] == digit).ToList();
            int conflicting = rows.Count(train.IsConflicting);
            Assert.Equal((int)Math.Round(share * rows.Count, MidpointRounding.AwayFromZero), conflicting);
            Assert.All(rows.Where(i => !train.IsConflicting(i)), i => Assert.Equal(digit, train.Colors[i]));
            // The wrong colours are spread evenly over the 9 others.
            var wrong = rows.Where(train.IsConflicting).GroupBy(i => train.Colors[i]).Select(g => g.Count()).ToList();
            if (conflicting >= 9) Assert.True(wrong.Max() - wrong.Min() <= 1 && wrong.Count == 9, $"digit {digit}: wrong colours {string.Join(",", wrong)}");
        }
        Assert.Equal(share, splits.ConflictingShare);
    }

    [Fact]
    public void Validation_and_test_colours_are_uniform_within_each_class()
    {
        var splits = ColoredMnist.Create(MnistData.Dataset, 0.01, seed: 5, trainSize: 5000, validationSize: 3000);
        Assert.Equal(10000, splits.Test.Count);
        foreach (var split in new[] { splits.Validation, splits.Test })
        {
            for (int digit = 0; digit < 10; digit++)
            {
                var counts = Enumerable.Range(0, 10).Select(c => Enumerable.Range(0, split.Count).Count(i => split.Digits[i] == digit && split.Colors[i] == c)).ToList();
                Assert.True(counts.Max() - counts.Min() <= 1, $"digit {digit}: colour counts {string.Join(",", counts)}");
            }
            var perColour = Enumerable.Range(0, 10).Select(c => split.Colors.Count(x => x == c)).ToList();
            Assert.True(perColour.Max() - perColour.Min() <= 10, $"colour counts {string.Join(",", perColour)}");
        }
    }

    [Fact]
    public void Splits_come_from_the_right_mnist_rows_and_do_not_overlap()
    {
        var mnist = MnistData.Dataset;
        var splits = ColoredMnist.Create(mnist, 0.02, seed: 1);
        Assert.Equal((50000, 10000, 10000), (splits.Train.Count, splits.Validation.Count, splits.Test.Count));
        Assert.Empty(splits.Train.SourceRows.Intersect(splits.Validation.SourceRows));
        Assert.Equal(60000, splits.Train.SourceRows.Union(splits.Validation.SourceRows).Count());
        Assert.All(Enumerable.Range(0, 200), i => Assert.Equal(mnist.TrainLabels[splits.Train.SourceRows[i]], splits.Train.Digits[i]));
        Assert.All(Enumerable.Range(0, 200), i => Assert.Equal(mnist.TestLabels[splits.Test.SourceRows[i]], splits.Test.Digits[i]));
    }

    [Fact]
    public void Same_seed_gives_identical_data_and_another_seed_does_not()
    {
        var mnist = MnistData.Dataset;
        var a = ColoredMnist.Create(mnist, 0.05, seed: 7, trainSize: 3000, validationSize: 500, testSize: 500);
        var b = ColoredMnist.Create(mnist, 0.05, seed: 7, trainSize: 3000, validationSize: 500, testSize: 500);
        var c = ColoredMnist.Create(mnist, 0.05, seed: 8, trainSize: 3000, validationSize: 500, testSize: 500);
        foreach (var (x, y) in new[] { (a.Train, b.Train), (a.Validation, b.Validation), (a.Test, b.Test) })
        {
            Assert.Equal(x.SourceRows, y.SourceRows);
            Assert.Equal(x.Colors, y.Colors);
            Assert.Equal(Features(x.DataView), Features(y.DataView));
        }
        Assert.NotEqual(a.Train.SourceRows, c.Train.SourceRows);
    }

    [Fact]
    public void Data_view_has_image_dimensions_named_keys_and_the_coloured_pixels()
    {
        var mnist = MnistData.Dataset;
        var split = ColoredMnist.Create(mnist, 0.01, seed: 2, trainSize: 100, validationSize: 100, testSize: 100).Test;
        var schema = split.DataView.Schema;
        var features = Assert.IsType<VectorDataViewType>(schema["Features"].Type);
        Assert.Equal([3, 28, 28], features.Dimensions.ToArray());
        Assert.Equal(NumberDataViewType.Single, features.ItemType);
        Assert.Equal(Enumerable.Range(0, 10).Select(d => d.ToString()), KeyNames(schema["Label"]));
        Assert.Equal(["red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta", "white", "grey"], KeyNames(schema["Color"]));
        var groups = KeyNames(schema["Group"]);
        Assert.Equal(100, groups.Count);
        Assert.Equal("0/red", groups[0]);
        Assert.Equal("3/green", groups[33]);
        Assert.Equal("9/grey", groups[99]);
        Assert.Equal(100, split.DataView.GetRowCount());

        var images = Features(split.DataView);
        var labels = split.DataView.GetColumn<uint>("Label").ToList();
        var colours = split.DataView.GetColumn<uint>("Color").ToList();
        var keys = split.DataView.GetColumn<uint>("Group").ToList();
        for (int i = 0; i < split.Count; i++)
        {
            Assert.Equal((uint)split.Digits[i] + 1, labels[i]);
            Assert.Equal((uint)split.Colors[i] + 1, colours[i]);
            Assert.Equal((uint)(10 * split.Digits[i] + split.Colors[i]) + 1, keys[i]);
            var (r, g, b) = split.ColorOf(i);
            var palette = ColoredMnistPalette.Rgb[split.Colors[i]];
            Assert.True(Math.Abs(r - palette.R) < 0.05 && Math.Abs(g - palette.G) < 0.05 && Math.Abs(b - palette.B) < 0.05);
            int source = split.SourceRows[i];
            for (int p = 0; p < 784; p += 7)
            {
                float ink = mnist.TestImages[source, p / 28, p % 28] / 255f;
                Assert.Equal(ink * r, images[i][p], 1e-6);
                Assert.Equal(ink * g, images[i][784 + p], 1e-6);
                Assert.Equal(ink * b, images[i][2 * 784 + p], 1e-6);
            }
            Assert.All(images[i], v => Assert.InRange(v, 0f, 1f));
        }
    }

    [Fact]
    public void Bad_arguments_name_the_argument()
    {
        var mnist = MnistData.Dataset;
        Assert.Equal("conflictingShare", Assert.Throws<ArgumentOutOfRangeException>(() => ColoredMnist.Create(mnist, 1.5, 0)).ParamName);
        Assert.Equal("trainSize", Assert.Throws<ArgumentOutOfRangeException>(() => ColoredMnist.Create(mnist, 0.01, 0, trainSize: 55000)).ParamName);
        Assert.Equal("validationSize", Assert.Throws<ArgumentOutOfRangeException>(() => ColoredMnist.Create(mnist, 0.01, 0, validationSize: 60000)).ParamName);
        Assert.Equal("testSize", Assert.Throws<ArgumentOutOfRangeException>(() => ColoredMnist.Create(mnist, 0.01, 0, testSize: 10001)).ParamName);
        Assert.Equal("colorStd", Assert.Throws<ArgumentOutOfRangeException>(() => ColoredMnist.Create(mnist, 0.01, 0, colorStd: -1)).ParamName);
    }

    private static List<float[]> Features(IDataView data) => data.GetColumn<float[]>("Features").ToList();

    private static List<string> KeyNames(DataViewSchema.Column column)
    {
        var values = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => v.ToString()).ToList();
    }
}
