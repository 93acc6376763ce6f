using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary><see cref="FeatureFile"/>: features extracted once, reused while dataset, preprocessing and backbone are the
/// same, made again (and why) when one differs.</summary>
[Collection(TorchCollection.Name)]
public sealed class FeatureFileTests
{
    [Fact]
    public void Second_run_reuses_the_file_and_another_backbone_or_preprocessing_is_not_reused()
    {
        using var folder = new TempFolder();
        var root = folder.Combine("birds");
        WaterbirdsFolderBuilder.Write(root, perGroup: 1, size: 40);
        var ml = new MLContext(seed: 0);
        var raw = ml.Data.LoadWaterbirds(root);
        var dataset = FeatureFileKey.DescribeDataset(ml, raw);
        TorchRuntime.SetSeed(1);
        using var first = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        TorchRuntime.SetSeed(2);
        using var second = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        var path = folder.Combine("cache", "features.idv");
        int extractions = 0;

        FeatureFileResult Run(ClassifierNetwork network, int resize)
        {
            var preprocessing = ml.Transforms.ImageNetPreprocessing(resize: resize, crop: 32).Fit(raw);
            var backbone = FeatureBackbone.FromNetwork(network, "SmallCnn");
            var pixels = preprocessing.Transform(raw);
            var features = ml.Transforms.PretrainedFeatures(backbone).Fit(pixels);
            var key = new FeatureFileKey(dataset, preprocessing.Description, features.BackboneFingerprint);
            var rows = ml.Transforms.SelectColumns("ImagePath", "Label", "Group", "Features").Fit(features.Transform(pixels)).Transform(features.Transform(pixels));
            var result = FeatureFile.LoadOrCreate(ml, rows, path, key, new Progress<long>(_ => { }));
            if (!result.Reused) extractions++;
            return result;
        }

        var made = Run(first, 36);
        Assert.False(made.Reused);
        Assert.StartsWith("no feature file", made.Reason);
        var expected = PretrainedFeaturesTests.ReadFeatures(made.Data, "Features");
        Assert.Equal(12, expected.Length);                                   // 3 splits x 4 groups x 1

        var again = Run(first, 36);
        Assert.True(again.Reused);
        Assert.Null(again.Reason);
        var reread = PretrainedFeaturesTests.ReadFeatures(again.Data, "Features");
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], reread[i]);   // the same bytes read back
        // Key columns keep their values through the file.
        Assert.Equal(raw.GetColumn<uint>("Label").ToArray(), again.Data.GetColumn<uint>("Label").ToArray());

        var otherBackbone = Run(second, 36);
        Assert.False(otherBackbone.Reused);
        Assert.Contains("backbone", otherBackbone.Reason);
        Assert.DoesNotContain("preprocessing", otherBackbone.Reason);
        var otherFeatures = PretrainedFeaturesTests.ReadFeatures(otherBackbone.Data, "Features");
        Assert.True(otherFeatures.Zip(expected).Any(p => !p.First.SequenceEqual(p.Second)), "another backbone's features must differ");

        var otherPreprocessing = Run(second, 40);
        Assert.False(otherPreprocessing.Reused);
        Assert.Contains("preprocessing", otherPreprocessing.Reason);
        Assert.DoesNotContain("backbone", otherPreprocessing.Reason);
        Assert.True(Run(second, 40).Reused);
        Assert.Equal(3, extractions);
    }

    [Fact]
    public void Batched_extraction_gives_the_transforms_features_and_keeps_the_other_columns()
    {
        using var folder = new TempFolder();
        var root = folder.Combine("birds");
        WaterbirdsFolderBuilder.Write(root, perGroup: 6, size: 40);                // 72 rows: two full batches of 32 and a part
        var ml = new MLContext(seed: 0);
        var raw = ml.Data.LoadWaterbirds(root);
        TorchRuntime.SetSeed(1);
        using var network = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        var preprocessing = ml.Transforms.ImageNetPreprocessing(resize: 36, crop: 32).Fit(raw);
        var pixels = preprocessing.Transform(raw);
        var features = ml.Transforms.PretrainedFeatures(FeatureBackbone.FromNetwork(network, "SmallCnn")).Fit(pixels);
        var key = new FeatureFileKey(FeatureFileKey.DescribeDataset(ml, raw), preprocessing.Description, features.BackboneFingerprint);
        int reported = 0;
        var made = FeatureFile.LoadOrCreate(ml, pixels, features, folder.Combine("f.idv"), key, new SynchronousProgress<long>(n => reported = (int)n));
        Assert.False(made.Reused);
        Assert.Equal(72, reported);

        // The same features as the transform's one row per call (ONNX Runtime both; batched kernels sum in another order:
        // float rounding of features of order 1, 1e-5 absolute), row for row, with the raw columns beside them.
        var expected = PretrainedFeaturesTests.ReadFeatures(features.Transform(pixels), "Features");
        var actual = PretrainedFeaturesTests.ReadFeatures(made.Data, "Features");
        Assert.Equal(72, actual.Length);
        for (int i = 0; i < actual.Length; i++) TensorAssert.AllClose(expected[i], actual[i], 1e-5, $"row {i}");
        Assert.Equal(raw.GetColumn<string>("ImagePath").ToArray(), made.Data.GetColumn<string>("ImagePath").ToArray());
        Assert.Equal(raw.GetColumn<uint>("Group").ToArray(), made.Data.GetColumn<uint>("Group").ToArray());
        Assert.Single(made.Data.Schema, c => c.Name == "Features");             // the pixels are not in the file
        Assert.True(FeatureFile.LoadOrCreate(ml, pixels, features, folder.Combine("f.idv"), key).Reused);
    }

    [Fact]
    public void Changed_dataset_or_incomplete_file_is_stale()
    {
        using var folder = new TempFolder();
        var root = folder.Combine("birds");
        var rows = WaterbirdsFolderBuilder.Write(root, perGroup: 1, size: 20);
        var ml = new MLContext(seed: 0);
        var before = FeatureFileKey.DescribeDataset(ml, ml.Data.LoadWaterbirds(root));
        Assert.Equal(before, FeatureFileKey.DescribeDataset(ml, ml.Data.LoadWaterbirds(root)));

        // Another label for one row.
        var lines = File.ReadAllLines(Path.Combine(root, "metadata.csv"));
        var changed = lines.Select((l, i) => i == 1 ? l.Replace($",{rows[0].Y},", $",{1 - rows[0].Y},", StringComparison.Ordinal) : l).ToArray();
        File.WriteAllLines(Path.Combine(root, "metadata.csv"), changed);
        var relabelled = FeatureFileKey.DescribeDataset(ml, ml.Data.LoadWaterbirds(root));
        Assert.NotEqual(before, relabelled);

        // A rewritten image file (other size).
        WaterbirdsFolderBuilder.WritePng(Path.Combine(root, rows[1].File), 24, 24, (_, _) => SkiaSharp.SKColors.Red);
        Assert.NotEqual(relabelled, FeatureFileKey.DescribeDataset(ml, ml.Data.LoadWaterbirds(root)));

        // A data file whose size differs from its key's record (changed after it was written) is not reused.
        var key = new FeatureFileKey("d", "p", "b");
        var data = ml.Data.LoadFromEnumerable(new[] { new Row { X = 1 }, new Row { X = 2 } });
        var path = folder.Combine("f.idv");
        Assert.False(FeatureFile.LoadOrCreate(ml, data, path, key).Reused);
        Assert.True(FeatureFile.LoadOrCreate(ml, data, path, key).Reused);
        File.AppendAllText(path, "x");
        Assert.Contains("bytes", FeatureFile.Check(path, key));
        File.Delete(path + FeatureFile.KeySuffix);
        Assert.Contains("no key file", FeatureFile.Check(path, key));
        var remade = FeatureFile.LoadOrCreate(ml, data, path, key);
        Assert.False(remade.Reused);
        Assert.Equal([1f, 2f], remade.Data.GetColumn<float>("X").ToArray());
    }

    /// <summary>The user's report: a CSV of paths relative to the photo folder, read from another working directory, an
    /// image overwritten between two runs. A fingerprint that cannot see the files must refuse (naming the file as written,
    /// the full path it tried and imageFolder), never reuse the old features; with imageFolder, the file is made again
    /// and the reason names the dataset.</summary>
    [Fact]
    public void Overwritten_image_behind_a_relative_path_is_never_reused_silently()
    {
        using var folder = new TempFolder();
        var photos = folder.Combine("photos");
        var rows = ImageListFolderBuilder.Write(photos, perGroup: 1, size: 40);
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(folder.Path);                         // the application's folder, not the photos'
        try
        {
            var ml = new MLContext(seed: 0);
            var raw = ml.Data.LoadFromTextFile<PhotoRow>(Path.Combine(photos, ImageListFolderBuilder.CsvName), separatorChar: ',', hasHeader: true);
            var preprocessing = ml.Transforms.ImageNetPreprocessing(imagePathColumnName: "ImagePath", imageFolder: photos, resize: 36, crop: 32).Fit(raw);
            TorchRuntime.SetSeed(1);
            using var network = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
            var features = ml.Transforms.PretrainedFeatures(FeatureBackbone.FromNetwork(network, "SmallCnn")).Fit(preprocessing.Transform(raw));

            // The user's call, without imageFolder: the relative paths name no file here.
            var e = Assert.Throws<FileNotFoundException>(() => FeatureFileKey.DescribeDataset(ml, raw));
            Assert.Contains($"'{rows[0].Path}'", e.Message);                                      // as written
            Assert.Contains(Path.GetFullPath(Path.Combine(folder.Path, rows[0].Path)), e.Message); // where it looked
            Assert.Contains("imageFolder", e.Message);

            FeatureFileResult Run()
            {
                var key = new FeatureFileKey(FeatureFileKey.DescribeDataset(ml, raw, imageFolder: photos), preprocessing.Description, features.BackboneFingerprint);
                return FeatureFile.LoadOrCreate(ml, preprocessing.Transform(raw), features, "features/all.idv", key);
            }
            Assert.False(Run().Reused);
            Assert.True(Run().Reused);
            ImageListFolderBuilder.Overwrite(Path.Combine(photos, rows[5].Path), 40);
            var again = Run();
            Assert.False(again.Reused);
            Assert.Contains("dataset", again.Reason);
            Assert.DoesNotContain("backbone", again.Reason);
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    private sealed class PhotoRow
    {
        [LoadColumn(0)]
        public string ImagePath { get; set; } = "";

        [LoadColumn(1)]
        public string Label { get; set; } = "";
    }

    private sealed class Row
    {
        public float X { get; set; }
    }
}
