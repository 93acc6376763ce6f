using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Networks;

/// <summary>Image sizes off a network's design point give a warning naming the network and the size; sizes a network
/// cannot take at all throw.</summary>
[Collection(TorchCollection.Name)]
public sealed class NetworkInputSizeTests
{
    [Theory]
    [InlineData(NetworkKind.SmallCnn, 16, "SmallCnn", "16x16")]
    [InlineData(NetworkKind.SmallCnn, 224, "SmallCnn", "224x224")]
    [InlineData(NetworkKind.ResNet18, 8, "ResNet18", "8x8")]
    [InlineData(NetworkKind.ResNet50, 16, "ResNet50", "16x16")]
    public void A_size_off_the_design_point_is_named_with_the_network(NetworkKind kind, int side, string network, string size)
    {
        var warning = NetworkInputSize.OffDesignWarning(kind, new ImageShape(3, side, side));
        Assert.NotNull(warning);
        Assert.Contains(network, warning);
        Assert.Contains(size, warning);
    }

    [Theory]
    [InlineData(NetworkKind.SmallCnn, 28)]
    [InlineData(NetworkKind.SmallCnn, 64)]
    [InlineData(NetworkKind.ResNet18, 32)]
    [InlineData(NetworkKind.ResNet34, 224)]
    [InlineData(NetworkKind.Mlp, 2)]
    [InlineData(NetworkKind.Mlp, 224)]
    [InlineData(NetworkKind.Linear, 1)]
    [InlineData(NetworkKind.Linear, 224)]
    public void A_size_within_the_design_gives_no_warning(NetworkKind kind, int side)
        => Assert.Null(NetworkInputSize.OffDesignWarning(kind, new ImageShape(3, side, side)));

    [Fact]
    public void ImageNet_weights_warn_far_from_224_pixels()
    {
        Assert.Contains("ImageNet", NetworkInputSize.OffDesignWarning(NetworkKind.ResNet18, new ImageShape(3, 8, 8), imageNetWeights: true));
        Assert.Contains("64x64", NetworkInputSize.OffDesignWarning(NetworkKind.ResNet18, new ImageShape(3, 64, 64), imageNetWeights: true));
        Assert.Null(NetworkInputSize.OffDesignWarning(NetworkKind.ResNet18, new ImageShape(3, 224, 224), imageNetWeights: true));
        Assert.Null(NetworkInputSize.OffDesignWarning(NetworkKind.ResNet18, new ImageShape(3, 160, 160), imageNetWeights: true));
    }

    [Fact]
    public void A_size_the_network_cannot_take_throws_naming_network_and_size()
    {
        var e = Assert.Throws<ArgumentException>(() => new SmallCnn(2, new ImageShape(3, 3, 3)));
        Assert.Contains("SmallCnn", e.Message);
        Assert.Contains("3", e.Message);
    }

    [Fact]
    public void The_trainer_gives_the_warning_to_the_sink_and_keeps_it_in_the_history()
    {
        var ml = new MLContext(0);
        var data = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.5, 1)); // 12 px images
        var received = new List<string>();
        var options = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 2, NumberOfEpochs = 1, BatchSize = 16, Device = TrainingDevice.Cpu,
            Warnings = new SynchronousProgress<string>(received.Add),
        };
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(data);
        var warning = Assert.Single(received);
        Assert.Contains("SmallCnn", warning);
        Assert.Contains("12x12", warning);
        Assert.Equal(received, model.History.Warnings);
    }
}
