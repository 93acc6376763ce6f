using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Fisher;


/// <summary>Small float64 networks with non-trivial batch-norm statistics and affine parameters.</summary>
internal static class FisherTestNetworks
{
    public static readonly string[] Names = ["Mlp", "SmallCnn", "ResNet18", "Linear"];

    public static (ClassifierNetwork Network, Tensor Inputs) Create(string name, int classes, int batch, int seed)
    {
        TorchRuntime.SetSeed(seed);
        ClassifierNetwork net = name switch
        {
            "Mlp" => new Mlp(classes, new ImageShape(1, 5, 5), width: 7),
            "SmallCnn" => new SmallCnn(classes, new ImageShape(2, 8, 8), width: 3),
            "ResNet18" => MLNet.FlatDebias.Trainers.Networks.ResNet.ResNet18(classes, new ImageShape(3, 32, 32), width: 4),
            "Linear" => new LinearClassifier(classes, new ImageShape(6, 1, 1)), // a feature vector of 6 values
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
        net.to(ScalarType.Float64);
        var shape = net.InputShape;
        using (no_grad())
        {
            foreach (var p in net.parameters()) p.add_(randn_like(p) * 0.1);
            net.train();
            for (int i = 0; i < 3; i++) net.forward(randn(16, shape.Channels, shape.Height, shape.Width, dtype: ScalarType.Float64) * 2 + 0.5).Dispose();
        }
        var inputs = randn(batch, shape.Channels, shape.Height, shape.Width, dtype: ScalarType.Float64);
        return (net, inputs);
    }
}

/// <summary>A network with a layer the fast path has no closed form for (a learned per-feature scale) and a
/// layer used twice (shared weights): both must go to the per-sample loop.</summary>
internal sealed class OddLayersNetwork : ClassifierNetwork
{
#pragma warning disable IDE1006
    private readonly Linear fc1;
    private readonly Linear shared;
    private readonly ScaleLayer scale;
    private readonly Linear fc;
#pragma warning restore IDE1006

    public OddLayersNetwork(int classes) : base("odd", new ImageShape(1, 2, 3), classes)
    {
        fc1 = nn.Linear(6, 5);
        shared = nn.Linear(5, 5);
        scale = new ScaleLayer(5);
        fc = nn.Linear(5, classes);
        RegisterComponents();
    }

    public override Linear Head => fc;

    public override Tensor Features(Tensor input)
    {
        var x = nn.functional.tanh(fc1.call(input.flatten(1)));
        x = nn.functional.tanh(shared.call(x));
        x = nn.functional.tanh(shared.call(x));
        return scale.call(x);
    }

    private sealed class ScaleLayer : nn.Module<Tensor, Tensor>
    {
#pragma warning disable IDE1006
        private readonly Parameter weight;
#pragma warning restore IDE1006

        public ScaleLayer(long size) : base("scale")
        {
            weight = new Parameter(ones(size) + 0.3 * randn(size));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input) => input * weight;
    }
}
