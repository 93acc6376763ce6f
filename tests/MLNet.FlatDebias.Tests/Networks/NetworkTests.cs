using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Networks;

[Collection(TorchCollection.Name)]
public sealed class NetworkTests
{
    private static readonly ImageShape ImageNet = new(3, 224, 224);

    [Fact]
    public void ResNet50_forward_and_backward_at_224_completes()
    {
        TorchRuntime.SetSeed(1);
        using var scope = NewDisposeScope();
        using var net = ResNet.ResNet50(10, ImageNet);
        net.train();
        var x = randn(2, 3, 224, 224);
        var logits = net.forward(x);
        Assert.Equal(new long[] { 2, 10 }, logits.shape);
        logits.sum().backward();
        foreach (var (name, p) in net.named_parameters())
        {
            Assert.NotNull(p.grad);
            Assert.True(torch.isfinite(p.grad!).all().item<bool>(), $"gradient of {name} is not finite");
        }
        // The first downsample of layer2 is the stride-2 path that crashes oneDNN when computed directly.
        Assert.True(net.named_parameters().First(p => p.name == "layer4.0.downsample.0.weight").parameter.grad!.abs().sum().ToDoubleValue() > 0);
    }

    [Theory]
    [InlineData(2L)]
    [InlineData(3L)]
    public void StridedPointwiseConv_equals_strided_conv2d_in_output_and_gradients(long stride)
    {
        TorchRuntime.SetSeed(2);
        using var scope = NewDisposeScope();
        using var ours = new StridedPointwiseConv2d(64, 32, stride);
        using var reference = nn.Conv2d(64, 32, 1, stride: stride, bias: false);
        using (no_grad()) reference.weight.copy_(ours.Weight);

        var x1 = randn(3, 64, 15, 14).requires_grad_(true);
        var x2 = x1.detach().clone().requires_grad_(true);
        var y1 = ours.forward(x1);
        var y2 = reference.forward(x2);
        TensorAssert.Close(y2, y1, 1e-5, "output");

        var upstream = randn_like(y1);
        (y1 * upstream).sum().backward();
        (y2 * upstream).sum().backward();
        TensorAssert.Close(x2.grad!, x1.grad!, 1e-5, "input gradient");
        TensorAssert.Close(reference.weight.grad!, ours.Weight.grad!, 1e-5, "weight gradient");
    }

    [Fact]
    public void ResNet18_state_dict_matches_torchvision_keys_and_shapes()
        => AssertSameStateDict(ResNet.ResNet18(1000, ImageNet), torchvision.models.resnet18(1000));

    [Fact]
    public void ResNet50_state_dict_matches_torchvision_keys_and_shapes()
        => AssertSameStateDict(ResNet.ResNet50(1000, ImageNet), torchvision.models.resnet50(1000));

    [Fact]
    public void Torchvision_weights_load_by_name_and_give_torchvision_outputs()
    {
        TorchRuntime.SetSeed(3);
        using var scope = NewDisposeScope();
        using var theirs = torchvision.models.resnet18(7);
        using var ours = ResNet.ResNet18(7, new ImageShape(3, 64, 64));
        var (missing, unexpected) = ours.load_state_dict(theirs.state_dict());
        Assert.Empty(missing);
        Assert.Empty(unexpected);
        theirs.eval();
        ours.eval();
        var x = randn(2, 3, 64, 64);
        TensorAssert.Close(theirs.forward(x), ours.forward(x), 1e-5, "logits");
    }

    public static TheoryData<NetworkKind> Kinds => new() { NetworkKind.ResNet18, NetworkKind.ResNet34, NetworkKind.ResNet50, NetworkKind.SmallCnn, NetworkKind.Mlp, NetworkKind.Linear };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Features_then_head_equals_forward(NetworkKind kind)
    {
        TorchRuntime.SetSeed(4);
        using var scope = NewDisposeScope();
        var shape = new ImageShape(3, 32, 32);
        using var net = NetworkFactory.Create(kind, 5, shape, width: 8);
        net.eval();
        var x = randn(4, 3, 32, 32);
        var features = net.Features(x);
        Assert.Equal(new long[] { 4, net.FeatureDimension }, features.shape);
        TensorAssert.Close(net.forward(x), net.Head.forward(features), 1e-6, "logits");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void State_dict_round_trip_gives_identical_outputs(NetworkKind kind)
    {
        using var scope = NewDisposeScope();
        var shape = new ImageShape(1, 32, 32);
        TorchRuntime.SetSeed(5);
        using var first = NetworkFactory.Create(kind, 3, shape, width: 8);
        first.train();
        first.forward(randn(8, 1, 32, 32)); // moves batch-norm running statistics away from their initial values
        first.eval();

        var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) first.save(writer);
        stream.Position = 0;
        TorchRuntime.SetSeed(6);
        using var second = NetworkFactory.Create(kind, 3, shape, width: 8);
        using (var reader = new BinaryReader(stream)) second.load(reader);
        second.eval();

        var x = randn(4, 1, 32, 32);
        Assert.True(first.forward(x).Identical(second.forward(x)), "outputs differ after a save/load round trip");
    }

    [Fact]
    public void Same_seed_gives_same_initial_weights_and_another_seed_does_not()
    {
        using var scope = NewDisposeScope();
        var shape = new ImageShape(3, 32, 32);
        TorchRuntime.SetSeed(7);
        using var a = new SmallCnn(2, shape, 8);
        TorchRuntime.SetSeed(7);
        using var b = new SmallCnn(2, shape, 8);
        TorchRuntime.SetSeed(8);
        using var c = new SmallCnn(2, shape, 8);
        var pa = a.parameters().ToArray();
        var pb = b.parameters().ToArray();
        var pc = c.parameters().ToArray();
        Assert.All(Enumerable.Range(0, pa.Length), i => Assert.True(pa[i].Identical(pb[i])));
        Assert.Contains(Enumerable.Range(0, pa.Length), i => !pa[i].Identical(pc[i]));
    }

    [Theory]
    [InlineData(3, 4, 4)] // an image: flattened to 48 values
    [InlineData(40, 1, 1)] // a feature vector of 40 values, as the trainers shape a one-dimensional column
    public void Linear_classifier_is_flattened_input_times_weights_plus_bias(int channels, int height, int width)
    {
        TorchRuntime.SetSeed(9);
        using var scope = NewDisposeScope();
        var shape = new ImageShape(channels, height, width);
        using var net = NetworkFactory.Create(NetworkKind.Linear, 3, shape, width: 99); // the width is ignored
        net.eval();
        Assert.IsType<LinearClassifier>(net);
        Assert.Equal(["fc.bias", "fc.weight"], net.state_dict().Keys.Order(StringComparer.Ordinal));
        Assert.Equal([3L, shape.Size], net.Head.weight.shape);
        Assert.Equal(shape.Size, net.FeatureDimension);

        var x = randn(5, channels, height, width);
        Assert.True(net.Features(x).Identical(x.reshape(5, shape.Size)), "Features(x) should be the flattened input");

        // The oracle in double, one dot product at a time.
        var xs = x.reshape(5, shape.Size).data<float>().ToArray();
        var w = net.Head.weight.data<float>().ToArray();
        var b = net.Head.bias!.data<float>().ToArray();
        var expected = new double[5 * 3];
        for (int n = 0; n < 5; n++)
            for (int k = 0; k < 3; k++)
            {
                double sum = b[k];
                for (int j = 0; j < shape.Size; j++) sum += (double)xs[n * shape.Size + j] * w[k * shape.Size + j];
                expected[n * 3 + k] = sum;
            }
        Tensor logits;
        using (no_grad()) logits = net.call(x);
        // float32 dot products of at most 48 terms of size < 1 against the same sums in double: rounding error below
        // 48 x 6e-8 per unit of |logit| (about 3e-6); a wrong weight, a missed bias or a transposed W moves logits by 1e-2.
        TensorAssert.Close(tensor(expected, [5, 3]), logits.to_type(ScalarType.Float64), 1e-5, "logits");
    }

    [Fact]
    public void Mlp_SmallCnn_and_Linear_reject_bad_shapes_with_the_parameter_named()
    {
        var e = Assert.Throws<ArgumentException>(() => new SmallCnn(2, new ImageShape(3, 2, 2)));
        Assert.Contains("at least 4x4", e.Message);
        var f = Assert.Throws<ArgumentOutOfRangeException>(() => new Mlp(1, new ImageShape(1, 4, 4)));
        Assert.Equal("numberOfClasses", f.ParamName);
        var h = Assert.Throws<ArgumentOutOfRangeException>(() => new LinearClassifier(1, new ImageShape(16, 1, 1)));
        Assert.Equal("numberOfClasses", h.ParamName);
        Assert.Equal("inputShape", Assert.Throws<ArgumentException>(() => new LinearClassifier(2, new ImageShape(0, 1, 1))).ParamName);
        var g = Assert.Throws<ArgumentOutOfRangeException>(() => NetworkFactory.Create((NetworkKind)42, 2, new ImageShape(1, 8, 8)));
        Assert.Contains("Unknown network '42'", g.Message);
    }

    private static void AssertSameStateDict(nn.Module ours, nn.Module theirs)
    {
        using (ours)
        using (theirs)
        {
            var a = ours.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            var b = theirs.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
            Assert.Equal(b.Keys.OrderBy(k => k, StringComparer.Ordinal), a.Keys.OrderBy(k => k, StringComparer.Ordinal));
            foreach (var key in b.Keys) Assert.True(b[key].SequenceEqual(a[key]), $"shape of {key} differs");
        }
    }
}
