using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Backend;

/// <summary>
/// The networks whose operations the backend tests check, at the widths and image sizes the tests, examples and
/// benchmarks train them with, and at odd widths (channel counts that are not multiples of 8 or 16, where vectorised
/// kernels take their remainder paths).
/// </summary>
internal sealed record BackendNetwork(string Name, NetworkKind Kind, int? Width, ImageShape Shape, int Batch)
{
    public static readonly BackendNetwork[] All =
    [
        // Tests (width 4 and 8 at 32 px), the main job (width 16 at 32 px, 28 px quick), the SmallCnn default (32), odd widths.
        new("SmallCnn w4 3x32x32", NetworkKind.SmallCnn, 4, new ImageShape(3, 32, 32), 8),
        new("SmallCnn w8 3x32x32", NetworkKind.SmallCnn, 8, new ImageShape(3, 32, 32), 8),
        new("SmallCnn w16 3x32x32", NetworkKind.SmallCnn, 16, new ImageShape(3, 32, 32), 8),
        new("SmallCnn w16 3x28x28", NetworkKind.SmallCnn, 16, new ImageShape(3, 28, 28), 8),
        new("SmallCnn w32 3x28x28", NetworkKind.SmallCnn, 32, new ImageShape(3, 28, 28), 8),
        new("SmallCnn w6 3x28x28 (odd)", NetworkKind.SmallCnn, 6, new ImageShape(3, 28, 28), 8),
        new("SmallCnn w5 1x28x28 (odd)", NetworkKind.SmallCnn, 5, new ImageShape(1, 28, 28), 8),
        new("SmallCnn w3 2x8x8 (odd)", NetworkKind.SmallCnn, 3, new ImageShape(2, 8, 8), 8),
        new("SmallCnn w7 3x64x64 (odd)", NetworkKind.SmallCnn, 7, new ImageShape(3, 64, 64), 4),
        // Tests (ResNets of width 4 and 8 at 32 px), benchmarks (width 64 at 32 and 224 px), odd widths.
        new("ResNet18 w4 3x32x32", NetworkKind.ResNet18, 4, new ImageShape(3, 32, 32), 8),
        new("ResNet18 w8 3x32x32", NetworkKind.ResNet18, 8, new ImageShape(3, 32, 32), 8),
        new("ResNet34 w8 3x32x32", NetworkKind.ResNet34, 8, new ImageShape(3, 32, 32), 8),
        new("ResNet50 w8 3x32x32", NetworkKind.ResNet50, 8, new ImageShape(3, 32, 32), 8),
        new("ResNet18 w64 3x32x32", NetworkKind.ResNet18, 64, new ImageShape(3, 32, 32), 8),
        new("ResNet18 w64 3x224x224", NetworkKind.ResNet18, 64, new ImageShape(3, 224, 224), 2),
        new("ResNet50 w64 3x224x224", NetworkKind.ResNet50, 64, new ImageShape(3, 224, 224), 2),
        new("ResNet18 w6 3x32x32 (odd)", NetworkKind.ResNet18, 6, new ImageShape(3, 32, 32), 8),
        new("ResNet50 w12 3x40x40 (odd)", NetworkKind.ResNet50, 12, new ImageShape(3, 40, 40), 8),
        // Flat feature vectors: the frozen ResNet-18's 512 features (Linear, Mlp), a grey image (Mlp), an odd width.
        new("Linear 512 features", NetworkKind.Linear, null, new ImageShape(512, 1, 1), 8),
        new("Mlp w100 512 features", NetworkKind.Mlp, 100, new ImageShape(512, 1, 1), 8),
        new("Mlp w7 1x5x5 (odd)", NetworkKind.Mlp, 7, new ImageShape(1, 5, 5), 8),
    ];

    /// <summary>Every network's name, as theory data (names serialise, so each network is its own test case).</summary>
    public static TheoryData<string> Names => [.. All.Select(n => n.Name)];

    /// <summary>The networks with convolutions.</summary>
    public static TheoryData<string> ConvolutionalNames => [.. All.Where(n => n.Kind is not (NetworkKind.Linear or NetworkKind.Mlp)).Select(n => n.Name)];

    /// <summary>The networks small enough for the float64 whole-network and trace checks to take under a few seconds.</summary>
    public static TheoryData<string> TraceableNames => [.. All.Where(n => n.Name != "ResNet50 w64 3x224x224").Select(n => n.Name)];

    public static BackendNetwork Get(string name) => All.Single(n => n.Name == name);

    public override string ToString() => Name;

    /// <summary>The network with 3 classes, its batch-norm scales and shifts moved off their initial ones and its batch-norm
    /// statistics set by three training-mode passes, so that every operation sees values like a trained network's (and the
    /// logits stay moderate: a saturated softmax makes the traces vanish in float32).</summary>
    public ClassifierNetwork Build(int seed = 0)
    {
        TorchRuntime.SetSeed(seed);
        var net = NetworkFactory.Create(Kind, 3, Shape, Width);
        using (no_grad())
        {
            foreach (var (name, p) in net.named_parameters())
                if (name.Contains("bn", StringComparison.Ordinal) || name.Contains("downsample.1", StringComparison.Ordinal)) p.add_(randn_like(p) * 0.1);
            net.train();
            for (int i = 0; i < 3; i++) net.forward(Inputs(Batch, 100 + i)).Dispose();
        }
        return net;
    }

    /// <summary>The same network in float64: the same weights and statistics.</summary>
    public ClassifierNetwork Float64CopyOf(ClassifierNetwork network)
    {
        var copy = NetworkFactory.Create(Kind, 3, Shape, Width);
        using (no_grad())
        {
            var source = network.state_dict();
            foreach (var (name, tensor) in copy.state_dict()) tensor.copy_(source[name]);
        }
        copy.to(ScalarType.Float64);
        copy.train(network.training);
        return copy;
    }

    /// <summary>A batch of images (standard normal, shifted), from a generator of its own.</summary>
    public Tensor Inputs(int batch, int seed)
    {
        using var generator = new Generator((ulong)seed);
        return randn([batch, Shape.Channels, Shape.Height, Shape.Width], generator: generator) * 1.5 + 0.2;
    }

    /// <summary>Runs one forward pass with hooks on the layers that compute (convolutions, batch norm, pooling, linear)
    /// and returns each call's module, name and input and output shapes.</summary>
    public static List<LayerCall> Record(ClassifierNetwork network, Tensor inputs)
    {
        var calls = new List<LayerCall>();
        var hooks = new List<nn.HookableModule<Func<nn.Module<Tensor, Tensor>, Tensor, Tensor>, Func<nn.Module<Tensor, Tensor>, Tensor, Tensor, Tensor>>.HookRemover>();
        foreach (var (name, module) in network.named_modules())
        {
            if (module is not (GuardedConv2d or StridedPointwiseConv2d or BatchNorm2d or BatchNorm1d or MaxPool2d or Linear)) continue;
            var layer = (nn.Module<Tensor, Tensor>)module;
            hooks.Add(layer.register_forward_hook((m, input, output) =>
            {
                calls.Add(new LayerCall(name, m, input.shape, output.shape));
                return output;
            }));
        }
        bool training = network.training;
        network.eval(); // shapes only: leave the batch-norm statistics alone
        try
        {
            using var noGrad = no_grad();
            network.forward(inputs).Dispose();
        }
        finally
        {
            foreach (var hook in hooks) hook.remove();
            network.train(training);
        }
        return calls;
    }
}

/// <summary>One recorded layer call.</summary>
internal sealed record LayerCall(string Name, nn.Module Module, long[] InputShape, long[] OutputShape)
{
    public string Describe() => $"'{Name}' ({Module.GetType().Name}), input [{string.Join(", ", InputShape)}]";
}
