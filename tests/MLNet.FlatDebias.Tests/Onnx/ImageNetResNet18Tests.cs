using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using Onnx;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Onnx;

/// <summary>The ImageNet ResNet-18 of Microsoft.ML.DnnImageFeaturizer.ResNet18 (referenced by this project, which
/// copies it to DnnImageModels/ in the output folder) against ONNX Runtime running the original file.</summary>
[Collection(TorchCollection.Name)]
public sealed class ImageNetResNet18Tests(ITestOutputHelper output)
{
    private const string CntkInput = "Input247";
    private const string CntkFeatures = "Pooling395_Output_0";

    private static readonly string ModelPath = Path.Combine(AppContext.BaseDirectory, ImageNetResNet18.RelativeModelPath);
    private static readonly string PreprocessPath = Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    [Fact]
    public void Model_file_is_found_next_to_the_application_and_a_wrong_path_is_named()
    {
        Assert.Equal(Path.GetFullPath(ModelPath), ImageNetResNet18.FindModel());
        var e = Assert.Throws<FileNotFoundException>(() => ImageNetResNet18.FindModel("/nonexistent/ResNet18.onnx"));
        Assert.Contains("/nonexistent/ResNet18.onnx", e.Message);
    }

    [Fact]
    public void Both_conventions_match_onnx_runtime_on_the_same_images()
    {
        using var scope = NewDisposeScope();
        TorchRuntime.SetSeed(5);
        var pixels = rand(2, 3, 224, 224);                                  // RGB on [0, 1]
        var meanImage = MeanImage();                                         // [1, 3, 224, 224], BGR on 0-255
        var bgr = pixels.flip(1) * 255;
        var cntkInput = bgr - meanImage;                                     // CNTK's own preprocessing
        var channelMeans = tensor(ImageNetResNet18.CntkChannelMeanBgr, ScalarType.Float32).reshape(1, 3, 1, 1);
        var cntkInputChannelMeans = bgr - channelMeans;                      // the same with the mean image's channel means
        var mean = tensor(new[] { 0.485f, 0.456f, 0.406f }).reshape(1, 3, 1, 1);
        var std = tensor(new[] { 0.229f, 0.224f, 0.225f }).reshape(1, 3, 1, 1);
        var normalized = (pixels - mean) / std;                              // this library's preprocessing

        var bytes = File.ReadAllBytes(ModelPath);
        var expected = OrtFeatures(bytes, cntkInput);
        var expectedChannelMeans = OrtFeatures(bytes, cntkInputChannelMeans);

        using var cntk = ImageNetResNet18.Create(2, convention: ImageNetInputConvention.Cntk);
        using var folded = ImageNetResNet18.Create(2);
        cntk.eval();
        folded.eval();
        Tensor cntkFeatures, foldedFeatures;
        using (no_grad())
        {
            cntkFeatures = cntk.Features(cntkInput);
            foldedFeatures = folded.Features(normalized);
        }

        double scale = expected.abs().max().ToDoubleValue();
        double cntkError = (cntkFeatures - expected).abs().max().ToDoubleValue() / scale;
        double foldedError = (foldedFeatures - expected).abs().max().ToDoubleValue() / scale;
        double foldedChannelError = (foldedFeatures - expectedChannelMeans).abs().max().ToDoubleValue() / expectedChannelMeans.abs().max().ToDoubleValue();
        double foldedMeanError = (foldedFeatures - expected).abs().mean().ToDoubleValue() / scale;
        output.WriteLine($"largest feature {scale:G4}");
        output.WriteLine($"Cntk convention, max |error| / largest feature: {cntkError:G3}");
        output.WriteLine($"Normalized, vs CNTK with its per-pixel mean image: max {foldedError:G3}, mean {foldedMeanError:G3} (relative to the largest feature)");
        output.WriteLine($"Normalized, vs CNTK with the mean image's channel means: max {foldedChannelError:G3}");

        // Measured (seed 5, largest feature 11.4): 3.8e-7; 2.5e-4; 0.057 max and 0.0026 mean.
        Assert.True(cntkError <= 1e-4, $"Cntk convention: {cntkError:G3}");
        Assert.True(foldedChannelError <= 5e-4, $"Normalized vs channel means: {foldedChannelError:G3}");
        Assert.True(foldedError <= 0.1, $"Normalized vs per-pixel mean image: {foldedError:G3}");
        Assert.True(foldedMeanError <= 0.005, $"Normalized vs per-pixel mean image, mean: {foldedMeanError:G3}");

        // Away from the zero-padded border the fold is exact: the stem's batch-norm outputs agree.
        var interior = TensorIndex.Slice(2, 111);                            // conv1 outputs whose 7x7 window has no padding
        using (no_grad())
        {
            var cntkStem = Stem(cntk, cntkInputChannelMeans)[.., .., interior, interior];
            var foldedStem = Stem(folded, normalized)[.., .., interior, interior];
            double stemError = (cntkStem - foldedStem).abs().max().ToDoubleValue() / cntkStem.abs().max().ToDoubleValue();
            output.WriteLine($"Normalized vs Cntk network, bn1 output interior: {stemError:G3}");
            Assert.True(stemError <= 1e-5, $"stem interior: {stemError:G3}");
        }
    }

    private static Tensor Stem(ResNet network, Tensor x)
    {
        var modules = network.named_modules().ToDictionary(m => m.name, m => m.module);
        var conv1 = (nn.Module<Tensor, Tensor>)modules["conv1"];
        var bn1 = (nn.Module<Tensor, Tensor>)modules["bn1"];
        return bn1.call(conv1.call(x));
    }

    [Fact]
    public void The_graph_maps_onto_blocks_2_2_2_3_with_all_110_tensors_and_a_new_head()
    {
        using var stream = File.OpenRead(ModelPath);
        var graph = CntkResNetGraph.Map(ModelProto.Parser.ParseFrom(stream));
        Assert.Equal([2, 2, 2, 3], graph.BlocksPerStage);
        Assert.Equal(64, graph.Width);
        Assert.Equal(110, graph.State.Count);
        Assert.Equal(CntkInput, graph.InputName);
        Assert.Equal(CntkFeatures, graph.FeaturesName);

        using var network = ImageNetResNet18.Create(7, ModelPath, ImageNetInputConvention.Cntk);
        Assert.Equal(7, network.NumberOfClasses);
        Assert.Equal([2, 2, 2, 3], network.BlocksPerStage);
        Assert.Equal(512, network.FeatureDimension);
        Assert.Equal(ImageNetResNet18.InputShape, network.InputShape);
        Assert.True(network.training);
    }

    [Fact]
    public void Cntk_channel_means_are_those_of_the_preprocessing_mean_image()
    {
        using var scope = NewDisposeScope();
        var means = MeanImage().to_type(ScalarType.Float64).mean([0L, 2L, 3L]).data<double>().ToArray();
        // Means taken in double; the constants are float32 means written to 8 significant digits (1e-6 relative).
        for (int c = 0; c < 3; c++) Assert.Equal(ImageNetResNet18.CntkChannelMeanBgr[c], means[c], 1e-6 * ImageNetResNet18.CntkChannelMeanBgr[c]);
    }

    [Fact]
    public void A_graph_that_is_not_a_resnet_is_refused_with_the_reason()
    {
        using var cnn = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        var path = Path.Combine(Path.GetTempPath(), $"flatdebias-not-resnet-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, OnnxTestNetworks.Export(cnn));
            var e = Assert.Throws<InvalidDataException>(() => ImageNetResNet18.Create(2, path));
            Assert.Contains("does not map onto a torchvision-style ResNet", e.Message);
            Assert.Contains("the kernel is not 7x7", e.Message);
        }
        finally { File.Delete(path); }
    }

    private static Tensor OrtFeatures(byte[] model, Tensor cntkInput)
    {
        var rows = new List<Tensor>();
        for (int i = 0; i < cntkInput.shape[0]; i++)
        {
            var outputs = OrtRunner.Run(model, CntkInput, cntkInput[i..(i + 1)]);
            Assert.Equal([1L, 512, 1, 1], outputs.Shapes[CntkFeatures]);
            rows.Add(outputs.Tensor(CntkFeatures).reshape(1, 512));
        }
        return cat(rows, 0);
    }

    private static Tensor MeanImage()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(PreprocessPath));
        return OnnxTensors.ToTensor(model.Graph.Initializer.Single(i => i.Name == "MeanImage"));
    }
}
