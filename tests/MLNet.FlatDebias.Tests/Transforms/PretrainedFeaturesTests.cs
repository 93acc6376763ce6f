using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary>The feature-extraction step (<see cref="PretrainedFeaturesEstimator"/>) against the backbone's own forward pass.</summary>
[Collection(TorchCollection.Name)]
public sealed class PretrainedFeaturesTests
{
    /// <summary>
    /// Float32 features computed by ONNX Runtime and by TorchSharp from the same weights: each feature of a ResNet-18 is
    /// an average over thousands of float32 sums taken in different orders by different kernels; seen up to 5e-6 on
    /// features up to 11. 1e-4 absolute leaves room for other CPUs' vector widths; a wrong weight, layer or channel order
    /// moves features by far more (tenths to units).
    /// </summary>
    private const double OnnxVsTorchFeature = 1e-4;

    [Fact]
    public void ImageNet_resnet18_features_equal_the_backbones_own_forward_pass()
    {
        using var backbone = FeatureBackbone.ImageNetResNet18();
        Assert.Equal(512, backbone.FeatureDimension);
        Assert.Equal(new ImageShape(3, 224, 224), backbone.InputShape);
        var pixels = RandomImages(3, backbone.InputShape.Size, seed: 1);
        var expected = TorchFeatures(backbone, pixels);

        var ml = new MLContext(seed: 0);
        var data = PixelData(ml, pixels);
        var transformer = ml.Transforms.PretrainedFeatures(backbone).Fit(data);
        var output = transformer.Transform(data);
        var type = Assert.IsType<VectorDataViewType>(output.Schema["Features"].Type);
        Assert.Equal(512, type.Size);
        var actual = ReadFeatures(output, "Features");

        double largest = expected.Max(f => f.Max(Math.Abs));
        Assert.True(largest > 1, $"features should be of order 1-10, largest {largest}");
        for (int i = 0; i < pixels.Length; i++)
            TensorAssert.AllClose(expected[i], actual[i], OnnxVsTorchFeature, $"image {i}");
    }

    [Fact]
    public void Fitting_and_asking_the_schema_leave_no_copy_of_the_backbone_graph_in_the_temporary_folder()
    {
        // Given a stream, ML.NET's ApplyOnnxModel copies the graph to a new temporary file that only disposing its
        // transformer deletes (never, at exit): 44 MB per fit and per GetOutputSchema before the library gave it a file.
        static HashSet<string> LargeTemporaryFiles() => [.. Directory.GetFiles(Path.GetTempPath()).Where(f => new FileInfo(f).Length > 1_000_000)];
        using var backbone = FeatureBackbone.ImageNetResNet18();
        var ml = new MLContext(seed: 0);
        var data = PixelData(ml, RandomImages(1, backbone.InputShape.Size, seed: 2));
        var before = LargeTemporaryFiles();

        var estimator = ml.Transforms.PretrainedFeatures(backbone);
        estimator.GetOutputSchema(SchemaShapes.Of(data.Schema));
        var first = estimator.Fit(data);
        var second = ml.Transforms.PretrainedFeatures(backbone).Fit(data);
        Assert.Equal(ReadFeatures(first.Transform(data), "Features")[0], ReadFeatures(second.Transform(data), "Features")[0]);

        Assert.Empty(LargeTemporaryFiles().Except(before));
        // One file for the graph, named by its content, however many steps use it.
        Assert.Single(Directory.GetFiles(Common.OnnxModelFiles.Folder, "*.onnx"), f => new FileInfo(f).Length > 1_000_000
            && File.ReadAllBytes(f).AsSpan().SequenceEqual(backbone.RowFormOnnx(PretrainedFeaturesEstimator.GraphInputName, PretrainedFeaturesEstimator.GraphOutputName)));
    }

    [Fact]
    public void Built_in_weights_overload_equals_the_backbone_overload_whose_backbone_may_be_disposed_at_once()
    {
        var ml = new MLContext(seed: 0);
        var pixels = RandomImages(2, ImageNetResNet18.InputShape.Size, seed: 5);
        var data = PixelData(ml, pixels);
        float[][] expected;
        PretrainedFeaturesEstimator fromBackbone;
        using (var backbone = FeatureBackbone.ImageNetResNet18())
        {
            expected = TorchFeatures(backbone, pixels);
            fromBackbone = ml.Transforms.PretrainedFeatures(backbone);
        }
        var disposedFirst = fromBackbone.Fit(data);                                   // fitted after the backbone was disposed
        var builtIn = ml.Transforms.PretrainedFeatures(PretrainedWeightsSource.ImageNetResNet18);
        Assert.Equal(512, builtIn.FeatureDimension);
        Assert.Equal(ImageNetResNet18.InputShape, builtIn.InputShape);
        var transformer = builtIn.Fit(data);
        Assert.Equal(disposedFirst.BackboneFingerprint, transformer.BackboneFingerprint);
        Assert.Equal("ImageNet ResNet-18", transformer.BackboneName);
        var a = ReadFeatures(disposedFirst.Transform(data), "Features");
        var b = ReadFeatures(transformer.Transform(data), "Features");
        for (int i = 0; i < pixels.Length; i++)
        {
            TensorAssert.AllClose(expected[i], a[i], OnnxVsTorchFeature, $"image {i}, backbone overload");
            TensorAssert.AllClose(expected[i], b[i], OnnxVsTorchFeature, $"image {i}, built-in overload");
        }

        Assert.Equal("weights", Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.PretrainedFeatures(PretrainedWeightsSource.None)).ParamName);
        Assert.Throws<FileNotFoundException>(() => ml.Transforms.PretrainedFeatures(PretrainedWeightsSource.ImageNetResNet18, modelPath: "no-such/ResNet18.onnx"));
        Assert.Throws<ArgumentException>(() => ml.Transforms.PretrainedFeatures(PretrainedWeightsSource.ImageNetResNet18, outputColumnName: " "));
    }

    [Fact]
    public void Saved_and_loaded_step_gives_the_same_features_and_keeps_other_columns()
    {
        using var folder = new TempFolder();
        TorchRuntime.SetSeed(3);
        using var network = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        var backbone = FeatureBackbone.FromNetwork(network, "test SmallCnn");
        var pixels = RandomImages(4, backbone.InputShape.Size, seed: 2);
        var expected = TorchFeatures(backbone, pixels);

        var ml = new MLContext(seed: 0);
        var data = PixelData(ml, pixels);
        var transformer = ml.Transforms.PretrainedFeatures(backbone, outputColumnName: "Embedding", inputColumnName: "Features").Fit(data);
        Assert.Equal(backbone.Fingerprint, transformer.BackboneFingerprint);
        var path = folder.Combine("features.zip");
        ml.Model.Save(transformer, data.Schema, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var output = loaded.Transform(data);
        Assert.NotNull(output.Schema.GetColumnOrNull("Features"));           // the pixels stay under their own name
        Assert.Equal(network.FeatureDimension, ((VectorDataViewType)output.Schema["Embedding"].Type).Size);
        var actual = ReadFeatures(output, "Embedding");
        for (int i = 0; i < pixels.Length; i++)
            TensorAssert.AllClose(expected[i], actual[i], OnnxVsTorchFeature, $"image {i}");
    }

    [Fact]
    public void Wrong_image_column_is_named()
    {
        TorchRuntime.SetSeed(3);
        using var network = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        var backbone = FeatureBackbone.FromNetwork(network, "test SmallCnn");
        var ml = new MLContext(seed: 0);
        var data = PixelData(ml, RandomImages(2, 3 * 16 * 16, seed: 0));   // 16 px images for a 32 px backbone
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.PretrainedFeatures(backbone).Fit(data));
        Assert.Contains("Features", e.Message);
        Assert.Contains("3072", e.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.PretrainedFeatures(backbone, inputColumnName: "Pixels").Fit(data));
        Assert.Contains("Pixels", missing.Message);
    }

    [Fact]
    public void Fingerprint_changes_with_the_weights()
    {
        TorchRuntime.SetSeed(3);
        using var a = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        TorchRuntime.SetSeed(4);
        using var b = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        Assert.NotEqual(FeatureBackbone.FromNetwork(a, "x").Fingerprint, FeatureBackbone.FromNetwork(b, "x").Fingerprint);
        TorchRuntime.SetSeed(3);
        using var c = new SmallCnn(2, new ImageShape(3, 32, 32), width: 8);
        Assert.Equal(FeatureBackbone.FromNetwork(a, "x").Fingerprint, FeatureBackbone.FromNetwork(c, "x").Fingerprint);
        // The head is not used: another head, same backbone.
        using (TorchSharp.torch.no_grad()) c.Head.weight!.add_(1);
        Assert.Equal(FeatureBackbone.FromNetwork(a, "x").Fingerprint, FeatureBackbone.FromNetwork(c, "x").Fingerprint);
        // The built-in backbone's random head does not change its identity either.
        TorchRuntime.SetSeed(1);
        using var first = FeatureBackbone.ImageNetResNet18();
        TorchRuntime.SetSeed(2);
        using var second = FeatureBackbone.ImageNetResNet18();
        Assert.Equal(first.Fingerprint, second.Fingerprint);
    }

    internal static float[][] RandomImages(int count, int size, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, size).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
    }

    internal static float[][] TorchFeatures(FeatureBackbone backbone, float[][] pixels)
    {
        using var scope = NewDisposeScope();
        var features = backbone.Extract(tensor(pixels.SelectMany(p => p).ToArray(), [pixels.Length, pixels[0].Length])).contiguous().data<float>().ToArray();
        return Enumerable.Range(0, pixels.Length).Select(i => features.AsSpan(i * backbone.FeatureDimension, backbone.FeatureDimension).ToArray()).ToArray();
    }

    internal static IDataView PixelData(MLContext ml, float[][] pixels)
    {
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[nameof(PixelRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, pixels[0].Length);
        return ml.Data.LoadFromEnumerable(pixels.Select((p, i) => new PixelRow { Id = i, Features = p }).ToList(), definition);
    }

    internal static float[][] ReadFeatures(IDataView data, string column)
        => data.GetColumn<VBuffer<float>>(column).Select(v => v.DenseValues().ToArray()).ToArray();

    private sealed class PixelRow
    {
        public int Id { get; set; }

        public float[] Features { get; set; } = [];
    }
}
