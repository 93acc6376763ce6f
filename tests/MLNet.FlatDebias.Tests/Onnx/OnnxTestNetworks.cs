using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Onnx;

/// <summary>Tiny networks of every kind, with non-trivial batch-norm statistics, for the ONNX tests.</summary>
internal static class OnnxTestNetworks
{
    public static readonly TheoryData<string> Kinds = ["ResNet18", "ResNet34", "ResNet50", "SmallCnnBatchNorm", "SmallCnnPlain", "Mlp", "Linear", "LinearFeatures"];

    /// <summary>A network of the named kind (widths 4-8, 28-40 px; the Linear ones on a 2x5x3 image and on a
    /// 512-value feature vector), trained-looking: batch-norm affine parameters and
    /// running statistics moved away from their initial values by a few train-mode forwards; returned in eval mode.</summary>
    public static ClassifierNetwork Create(string kind, int seed = 1)
    {
        TorchRuntime.SetSeed(seed);
        ClassifierNetwork network = kind switch
        {
            // 40 px makes the stride-2 layers see odd sizes (5 -> 3 in layer4), which checks the downsample's padding.
            "ResNet18" => ResNet.ResNet18(3, new ImageShape(3, 40, 40), 4),
            "ResNet34" => ResNet.ResNet34(2, new ImageShape(3, 32, 32), 4),
            "ResNet50" => ResNet.ResNet50(4, new ImageShape(3, 32, 32), 4),
            "SmallCnnBatchNorm" => new SmallCnn(3, new ImageShape(3, 32, 32), 8, batchNorm: true),
            "SmallCnnPlain" => new SmallCnn(5, new ImageShape(1, 28, 28), 6, batchNorm: false),
            "Mlp" => new Mlp(10, new ImageShape(1, 28, 28), 8, depth: 3),
            "Linear" => new LinearClassifier(4, new ImageShape(2, 5, 3)),
            // A ResNet-18's 512 penultimate features per row, as the trainers shape a one-dimensional column.
            "LinearFeatures" => new LinearClassifier(3, new ImageShape(512, 1, 1)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown test network"),
        };
        using var scope = NewDisposeScope();
        using (no_grad())
        {
            foreach (var (name, tensor) in network.state_dict())
            {
                if (name.EndsWith(".weight", StringComparison.Ordinal) && tensor.dim() == 1) tensor.uniform_(0.5, 1.5);
                else if (name.EndsWith(".bias", StringComparison.Ordinal) && tensor.dim() == 1) tensor.uniform_(-0.3, 0.3);
            }
            network.train();
            for (int i = 0; i < 3; i++) network.call(Input(network, 8) * 2 + 0.5);
        }
        network.eval();
        return network;
    }

    /// <summary>Random images <c>[n, C, H, W]</c> for a network.</summary>
    public static Tensor Input(ClassifierNetwork network, int n)
    {
        var s = network.InputShape;
        return randn(n, s.Channels, s.Height, s.Width);
    }

    public static byte[] Export(ClassifierNetwork network, OnnxExportOptions? options = null)
    {
        using var stream = new MemoryStream();
        OnnxExport.Export(network, stream, options);
        return stream.ToArray();
    }

    /// <summary>Eval-mode softmax of the network on <paramref name="x"/>.</summary>
    public static Tensor Probabilities(ClassifierNetwork network, Tensor x)
    {
        using (no_grad()) return nn.functional.softmax(network.call(x), 1);
    }
}
