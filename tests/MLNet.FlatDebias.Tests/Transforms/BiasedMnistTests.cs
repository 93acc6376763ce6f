using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Metrics;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary>Patched MNIST (digit mod 3, corner patch) and Striped MNIST (parity, stripe orientation).</summary>
/// <remarks>Pixels are compared exactly: both sides compute each pixel with the same single float operation
/// (<c>byte / 255f</c>, a constant, or the max of the two), so they are bit-identical and any tolerance would only hide
/// a wrong pixel.</remarks>
[Collection(TorchCollection.Name)]
public sealed class BiasedMnistTests
{
    private const string Patched = "patched";
    private const string Striped = "striped";

    private static BiasedMnistSplits Create(string set, MnistDataset mnist, double share, int seed,
        int? trainSize = null, int? validationSize = null, int? testSize = null) => set switch
    {
        Patched => PatchedMnist.Create(mnist, share, seed, trainSize, validationSize, testSize),
        Striped => StripedMnist.Create(mnist, share, seed, trainSize, validationSize, testSize),
        _ => throw new ArgumentOutOfRangeException(nameof(set), set, "unknown set"),
    };

    /// <summary>The digits of each class, written out rather than computed with the rule under test.</summary>
    private static int[][] DigitsOfClass(string set) => set == Patched ? [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]] : [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]];

    [Theory]
    [InlineData(Patched)]
    [InlineData(Striped)]
    public void Same_seed_gives_identical_data_and_another_seed_does_not(string set)
    {
        var mnist = MnistData.Dataset;
        var a = Create(set, mnist, 0.05, seed: 7, trainSize: 2000, validationSize: 500, testSize: 500);
        var b = Create(set, mnist, 0.05, seed: 7, trainSize: 2000, validationSize: 500, testSize: 500);
        var c = Create(set, mnist, 0.05, seed: 8, trainSize: 2000, validationSize: 500, testSize: 500);
        foreach (var (x, y) in new[] { (a.Train, b.Train), (a.Validation, b.Validation), (a.Test, b.Test) })
        {
            Assert.Equal(x.SourceRows, y.SourceRows);
            Assert.Equal(x.Attributes, y.Attributes);
            Assert.Equal(Features(x.DataView), Features(y.DataView));
        }
        Assert.NotEqual(a.Train.SourceRows, c.Train.SourceRows);
        Assert.NotEqual(a.Test.Attributes, c.Test.Attributes);
        Assert.NotEqual(Features(a.Validation.DataView), Features(c.Validation.DataView));
        Assert.Equal((0.05, 7), (a.ConflictingShare, a.Seed));
    }

    [Theory]
    [InlineData(Patched, 0.005)]
    [InlineData(Patched, 0.02)]
    [InlineData(Patched, 0.05)]
    [InlineData(Striped, 0.005)]
    [InlineData(Striped, 0.02)]
    [InlineData(Striped, 0.05)]
    public void Conflicting_count_is_exact_in_every_training_class(string set, double share)
    {
        var train = Create(set, MnistData.Dataset, share, seed: 3, trainSize: 20000, validationSize: 2000, testSize: 100).Train;
        int classes = train.ClassNames.Count;
        Assert.Equal(20000, train.Count);
        for (int label = 0; label < classes; label++)
        {
            var rows = Enumerable.Range(0, train.Count).Where(i => train.Labels[i] == label).ToList();
            int conflicting = rows.Count(train.IsConflicting);
            Assert.Equal((int)Math.Round(share * rows.Count, MidpointRounding.AwayFromZero), conflicting);
            Assert.Equal(conflicting, rows.Count(i => train.Attributes[i] != label));
            // The wrong attribute values take turns: each of the classes − 1 others is used equally (±1).
            var wrong = Enumerable.Range(0, classes).Where(a => a != label)
                .Select(a => rows.Count(i => train.Attributes[i] == a)).ToList();
            Assert.True(wrong.Max() - wrong.Min() <= 1, $"class {label}: wrong attributes {string.Join(",", wrong)}");
        }
    }

    [Theory]
    [InlineData(Patched)]
    [InlineData(Striped)]
    public void Validation_and_test_attributes_are_balanced_within_each_class(string set)
    {
        var splits = Create(set, MnistData.Dataset, 0.01, seed: 5, trainSize: 5000, validationSize: 3001);
        Assert.Equal((3001, 10000), (splits.Validation.Count, splits.Test.Count));
        foreach (var split in new[] { splits.Validation, splits.Test })
        {
            for (int label = 0; label < split.ClassNames.Count; label++)
            {
                var counts = Enumerable.Range(0, split.AttributeNames.Count)
                    .Select(a => Enumerable.Range(0, split.Count).Count(i => split.Labels[i] == label && split.Attributes[i] == a)).ToList();
                Assert.True(counts.Max() - counts.Min() <= 1, $"class {label}: attribute counts {string.Join(",", counts)}");
            }
        }
    }

    [Theory]
    [InlineData(Patched)]
    [InlineData(Striped)]
    public void Labels_follow_the_digit_rule_and_splits_come_from_disjoint_mnist_rows(string set)
    {
        var mnist = MnistData.Dataset;
        var splits = Create(set, mnist, 0.02, seed: 1, trainSize: 40000, validationSize: 15000);
        Assert.Empty(splits.Train.SourceRows.Intersect(splits.Validation.SourceRows));
        var classes = DigitsOfClass(set);
        foreach (var (split, digits) in new[] { (splits.Train, mnist.TrainLabels), (splits.Validation, mnist.TrainLabels), (splits.Test, mnist.TestLabels) })
        {
            for (int i = 0; i < split.Count; i++)
            {
                int digit = digits[split.SourceRows[i]];
                Assert.Equal(digit, split.Digits[i]);
                Assert.Contains(digit, classes[split.Labels[i]]);
            }
        }
    }

    [Fact]
    public void Patch_is_the_5x5_white_square_at_the_rows_corner_and_leaves_the_digit_elsewhere()
    {
        Assert.Equal((1, 1), PatchedMnist.PatchCorner(0, 28, 28));
        Assert.Equal((1, 22), PatchedMnist.PatchCorner(1, 28, 28));
        Assert.Equal((22, 1), PatchedMnist.PatchCorner(2, 28, 28));
        var mnist = MnistData.Dataset;
        var test = PatchedMnist.Create(mnist, seed: 4, trainSize: 10, validationSize: 10, testSize: 300).Test;
        for (int i = 0; i < test.Count; i++)
        {
            var image = test.GetImage(i);
            var (top, left) = PatchedMnist.PatchCorner(test.Attributes[i], 28, 28);
            int onesInSquare = 0;
            for (int y = 0; y < 28; y++)
            {
                for (int x = 0; x < 28; x++)
                {
                    bool inSquare = y >= top && y < top + 5 && x >= left && x < left + 5;
                    float expected = inSquare ? 1f : mnist.TestImages[test.SourceRows[i], y, x] / 255f;
                    Assert.Equal(expected, image[28 * y + x]);
                    if (inSquare && image[28 * y + x] == 1f) onesInSquare++;
                }
            }
            Assert.Equal(25, onesInSquare);
        }
    }

    [Fact]
    public void Stripes_are_in_the_background_in_the_rows_orientation_only()
    {
        var mnist = MnistData.Dataset;
        var test = StripedMnist.Create(mnist, seed: 4, trainSize: 10, validationSize: 10, testSize: 300).Test;
        for (int i = 0; i < test.Count; i++)
        {
            var image = test.GetImage(i);
            bool horizontal = test.Attributes[i] == 0;
            int onOwn = 0, onOtherOnly = 0;
            for (int y = 0; y < 28; y++)
            {
                for (int x = 0; x < 28; x++)
                {
                    // Bands 2 px wide from the edge: rows (or columns) 0-1, 4-5, 8-9, … are stripes.
                    bool rowStripe = y % 4 < 2, columnStripe = x % 4 < 2;
                    bool own = horizontal ? rowStripe : columnStripe, other = horizontal ? columnStripe : rowStripe;
                    float ink = mnist.TestImages[test.SourceRows[i], y, x] / 255f;
                    Assert.Equal(own ? Math.Max(ink, 0.3f) : ink, image[28 * y + x]);
                    if (ink == 0 && own && image[28 * y + x] == 0.3f) onOwn++;
                    if (ink == 0 && other && !own && image[28 * y + x] == 0f) onOtherOnly++;
                }
            }
            // MNIST's 4-pixel empty border alone holds many background pixels of each kind.
            Assert.True(onOwn > 100 && onOtherOnly > 50, $"row {i}: {onOwn} stripe pixels, {onOtherOnly} bare pixels on the other orientation's stripes");
        }
    }

    [Theory]
    [InlineData(Patched, 0, new[] { "........", ".#####..", ".#####..", ".#####..", ".#####..", ".#####..", "........", "........" })]
    [InlineData(Patched, 1, new[] { "........", "..#####.", "..#####.", "..#####.", "..#####.", "..#####.", "........", "........" })]
    [InlineData(Patched, 2, new[] { "........", "........", ".#####..", ".#####..", ".#####..", ".#####..", ".#####..", "........" })]
    [InlineData(Striped, 0, new[] { "########", "########", "........", "........", "########", "########", "........", "........" })]
    [InlineData(Striped, 1, new[] { "##..##..", "##..##..", "##..##..", "##..##..", "##..##..", "##..##..", "##..##..", "##..##.." })]
    public void Attribute_on_a_blank_8x8_image_is_the_hand_drawn_pattern(string set, int attribute, string[] picture)
    {
        // Blank digits: the image is the attribute's drawing alone; '#' is the patch (1) or a stripe (0.3).
        var labels = Enumerable.Range(0, 30).Select(i => (byte)(i % 10)).ToArray();
        var blank = new MnistDataset(new byte[30, 8, 8], labels, new byte[30, 8, 8], labels);
        var test = Create(set, blank, 0.02, seed: 0, trainSize: 10, validationSize: 10, testSize: 30).Test;
        int row = Enumerable.Range(0, test.Count).First(i => test.Attributes[i] == attribute);
        float mark = set == Patched ? 1f : 0.3f;
        var image = test.GetImage(row);
        var drawn = Enumerable.Range(0, 8).Select(y => new string([.. Enumerable.Range(0, 8).Select(x => image[8 * y + x] == mark ? '#' : image[8 * y + x] == 0 ? '.' : '?')]));
        Assert.Equal(picture, drawn);
    }

    [Theory]
    [InlineData(Patched, "Patch", new[] { "0", "1", "2" }, new[] { "top-left", "top-right", "bottom-left" })]
    [InlineData(Striped, "Stripes", new[] { "even", "odd" }, new[] { "horizontal", "vertical" })]
    public void Data_view_has_image_dimensions_named_keys_and_the_split_s_rows(string set, string attributeColumn, string[] classes, string[] attributes)
    {
        var split = Create(set, MnistData.Dataset, 0.02, seed: 2, trainSize: 100, validationSize: 100, testSize: 120).Test;
        var schema = split.DataView.Schema;
        var features = Assert.IsType<VectorDataViewType>(schema["Features"].Type);
        Assert.Equal([1, 28, 28], features.Dimensions.ToArray());
        Assert.Equal(NumberDataViewType.Single, features.ItemType);
        Assert.Equal(classes, KeyNames(schema["Label"]));
        Assert.Equal(attributes, KeyNames(schema[attributeColumn]));
        Assert.Equal(attributeColumn, split.AttributeColumnName);
        var groups = KeyNames(schema["Group"]);
        Assert.Equal(classes.SelectMany(c => attributes.Select(a => $"{c}/{a}")), groups);
        Assert.Equal(set == Patched ? PatchedMnist.GroupNames : StripedMnist.GroupNames, groups);
        Assert.Equal(set == Patched ? "0/top-left" : "even/horizontal", groups[0]);
        Assert.Equal(120, split.DataView.GetRowCount());

        var images = Features(split.DataView);
        var labels = split.DataView.GetColumn<uint>("Label").ToList();
        var attributeKeys = split.DataView.GetColumn<uint>(attributeColumn).ToList();
        var groupKeys = split.DataView.GetColumn<uint>("Group").ToList();
        for (int i = 0; i < split.Count; i++)
        {
            Assert.Equal((uint)split.Labels[i] + 1, labels[i]);
            Assert.Equal((uint)split.Attributes[i] + 1, attributeKeys[i]);
            Assert.Equal((uint)(attributes.Length * split.Labels[i] + split.Attributes[i]) + 1, groupKeys[i]);
            Assert.Equal(split.GetImage(i), images[i]);
            Assert.All(images[i], v => Assert.InRange(v, 0f, 1f));
        }
    }

    [Theory]
    [InlineData(Patched)]
    [InlineData(Striped)]
    public void Erm_on_the_biased_training_set_fits_and_its_worst_group_falls_behind_its_average(string set)
    {
        var ml = new MLContext(0);
        var splits = Create(set, MnistData.Dataset, 0.01, seed: 1, trainSize: 3000, validationSize: 10, testSize: 1200);
        var options = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 2, BatchSize = 32, LearningRate = 3e-3,
            Optimizer = OptimizerKind.Adam, Seed = 1, Device = TrainingDevice.Cpu,
        };
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(splits.Train.DataView);

        var groups = ml.MulticlassClassification.EvaluateGroups(model.Transform(splits.Test.DataView));
        int classes = splits.Test.ClassNames.Count;
        Assert.Equal(classes * classes, groups.ByGroup.Count);
        Assert.Equal(splits.Test.GroupNames, groups.ByGroup.Select(g => g.Name));
        // 99 % of the training rows carry the shortcut: the model fits it (aligned test groups well above chance) and
        // fails some conflicting group far more than it fails on average.
        double chance = 1.0 / classes;
        var aligned = groups.ByGroup.Where((_, g) => g / classes == g % classes).Select(g => g.Accuracy).ToList();
        Assert.True(aligned.Min() > chance + 0.2, $"aligned-group accuracies {string.Join(", ", aligned.Select(a => a.ToString("F3")))}");
        Assert.True(groups.WorstGroupAccuracy < groups.AverageAccuracy - 0.2,
            $"worst group {groups.WorstGroup} {groups.WorstGroupAccuracy:F3}, average {groups.AverageAccuracy:F3}");
        Assert.Contains(groups.WorstGroup, groups.ByGroup.Where((_, g) => g / classes != g % classes).Select(g => g.Name));
    }

    [Theory]
    [InlineData(Patched)]
    [InlineData(Striped)]
    public void Bad_arguments_name_the_argument(string set)
    {
        var mnist = MnistData.Dataset;
        Assert.Equal("conflictingShare", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, 1.5, 0)).ParamName);
        Assert.Equal("conflictingShare", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, -0.01, 0)).ParamName);
        Assert.Equal("conflictingShare", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, double.NaN, 0)).ParamName);
        Assert.Equal("trainSize", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, 0.01, 0, trainSize: 55000)).ParamName);
        Assert.Equal("trainSize", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, 0.01, 0, trainSize: 0)).ParamName);
        Assert.Equal("validationSize", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, 0.01, 0, validationSize: 60000)).ParamName);
        Assert.Equal("validationSize", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, 0.01, 0, validationSize: -1)).ParamName);
        Assert.Equal("testSize", Assert.Throws<ArgumentOutOfRangeException>(() => Create(set, mnist, 0.01, 0, testSize: 10001)).ParamName);
        var tiny = new MnistDataset(new byte[20, 2, 2], new byte[20], new byte[5, 2, 2], new byte[5]);
        Assert.Equal("mnist", Assert.Throws<ArgumentException>(() => Create(set, tiny, 0.01, 0, trainSize: 5, validationSize: 5)).ParamName);
        Assert.Throws<ArgumentNullException>(() => Create(set, null!, 0.01, 0));
    }

    [Fact]
    public void Drawing_helpers_reject_positions_and_orientations_that_do_not_exist()
    {
        Assert.Equal("position", Assert.Throws<ArgumentOutOfRangeException>(() => PatchedMnist.PatchCorner(3, 28, 28)).ParamName);
        Assert.Equal("width", Assert.Throws<ArgumentOutOfRangeException>(() => PatchedMnist.PatchCorner(0, 28, 6)).ParamName);
        Assert.Equal("orientation", Assert.Throws<ArgumentOutOfRangeException>(() => StripedMnist.IsStripe(2, 0, 0)).ParamName);
    }

    private static List<float[]> Features(IDataView data) => data.GetColumn<float[]>("Features").ToList();

    private static List<string> KeyNames(DataViewSchema.Column column)
    {
        var values = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(v => v.ToString()).ToList();
    }
}
