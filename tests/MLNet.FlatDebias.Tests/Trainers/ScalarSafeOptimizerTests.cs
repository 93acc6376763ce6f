using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Engine;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>The engine's optimisers (<see cref="ScalarSafeOptimizers"/>) against TorchSharp's own as the reference: the same
/// libtorch operations in the same order at the same thread count, so parameters, moments and step counts must be equal bit for bit
/// (no tolerance: any difference means the arithmetic differs, and with it every trained model).</summary>
[Collection(TorchCollection.Name)]
public sealed class ScalarSafeOptimizerTests
{
    [Theory]
    [InlineData(0.0, false)]
    [InlineData(1e-2, false)]
    [InlineData(1e-2, true)]
    public void Adam_gives_exactly_the_parameters_and_saved_state_of_torchsharps_adam(double weightDecay, bool amsgrad)
    {
        var (reference, ours) = Twins();
        using var referenceOptimizer = new TorchSharp.Modules.Adam(reference.parameters(), 3e-3, weight_decay: weightDecay, amsgrad: amsgrad);
        using var ourOptimizer = new ScalarSafeOptimizers.Adam(ours.parameters(), 3e-3, weightDecay, amsgrad);

        TrainBoth(reference, referenceOptimizer, ours, ourOptimizer);

        AssertSameParameters(reference, ours);
        Assert.Equal(SavedState(referenceOptimizer), SavedState(ourOptimizer));
    }

    [Theory]
    [InlineData(0.0, 0.0, false)]
    [InlineData(0.9, 1e-3, false)]
    [InlineData(0.9, 1e-3, true)]
    public void Sgd_gives_exactly_the_parameters_and_saved_state_of_torchsharps_sgd(double momentum, double weightDecay, bool nesterov)
    {
        var (reference, ours) = Twins();
        using var referenceOptimizer = new TorchSharp.Modules.SGD(reference.parameters(), 0.05, momentum: momentum, weight_decay: weightDecay, nesterov: nesterov);
        using var ourOptimizer = new ScalarSafeOptimizers.SGD(ours.parameters(), 0.05, momentum, weightDecay, nesterov);

        TrainBoth(reference, referenceOptimizer, ours, ourOptimizer);

        AssertSameParameters(reference, ours);
        Assert.Equal(SavedState(referenceOptimizer), SavedState(ourOptimizer));
    }

    [Fact]
    public void A_state_saved_by_torchsharps_adam_loads_into_the_engines_and_training_goes_on_identically()
    {
        // Checkpoints written before the engine had its own optimisers hold TorchSharp's Adam state under the name "Adam".
        var (reference, ours) = Twins();
        using var referenceOptimizer = new TorchSharp.Modules.Adam(reference.parameters(), 3e-3, weight_decay: 1e-4);
        using var ourOptimizer = new ScalarSafeOptimizers.Adam(ours.parameters(), 3e-3, 1e-4);
        using (var before = new TorchSharp.Modules.Adam(ours.parameters(), 3e-3, weight_decay: 1e-4))
            TrainBoth(reference, referenceOptimizer, ours, before);
        using (var stream = new MemoryStream(SavedState(referenceOptimizer)))
        using (var reader = new BinaryReader(stream))
            ourOptimizer.load_state_dict(reader);

        TrainBoth(reference, referenceOptimizer, ours, ourOptimizer);

        AssertSameParameters(reference, ours);
    }

    private static (Sequential Reference, Sequential Ours) Twins()
    {
        torch.manual_seed(11);
        var reference = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3));
        var ours = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3));
        using (torch.no_grad())
            foreach (var ((_, from), (_, to)) in reference.named_parameters().Zip(ours.named_parameters()))
                to.copy_(from);
        return (reference, ours);
    }

    /// <summary>Six steps on the same random batches (the second half with one parameter left without a gradient).</summary>
    private static void TrainBoth(Sequential reference, OptimizerHelper referenceOptimizer, Sequential ours, OptimizerHelper ourOptimizer)
    {
        var generator = new Generator(17);
        for (int step = 0; step < 6; step++)
        {
            using var scope = torch.NewDisposeScope();
            var x = torch.randn(new long[] { 10, 6 }, generator: generator);
            var y = torch.randint(0, 3, new long[] { 10 }, generator: generator);
            foreach (var (network, optimizer) in new[] { (reference, referenceOptimizer), (ours, ourOptimizer) })
            {
                optimizer.zero_grad();
                nn.functional.cross_entropy(network.forward(x), y).backward();
                if (step >= 3) network.parameters().First().grad = null;   // TorchSharp skips a parameter without a gradient
                optimizer.step();
            }
        }
    }

    private static void AssertSameParameters(Sequential reference, Sequential ours)
    {
        foreach (var ((name, expected), (_, actual)) in reference.named_parameters().Zip(ours.named_parameters()))
            Assert.True(expected.eq(actual).all().item<bool>(), $"parameter {name} differs: max |difference| {(expected - actual).abs().max().item<float>()}");
    }

    private static byte[] SavedState(OptimizerHelper optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            optimizer.save_state_dict(writer);
        return stream.ToArray();
    }
}
