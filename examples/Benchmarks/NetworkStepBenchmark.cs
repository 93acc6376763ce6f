using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>Training-step time (forward, backward, SGD step) of the ResNets at the two sizes the project uses.</summary>
internal static class NetworkStepBenchmark
{
    public static void Run(TextWriter output, bool quick)
    {
        output.WriteLine("## Training step: forward + backward + SGD (momentum 0.9), float32, CPU");
        output.WriteLine($"{"network",-10} {"batch",5} {"image",9} {"s/step",8} {"images/s",9}");
        var cases = quick
            ? new[] { (NetworkKind.ResNet18, 2, 32, 1) }
            : new[] { (NetworkKind.ResNet18, 8, 224, 3), (NetworkKind.ResNet50, 8, 224, 3), (NetworkKind.ResNet18, 64, 32, 5), (NetworkKind.ResNet50, 64, 32, 5) };
        foreach (var (kind, batch, size, repetitions) in cases)
        {
            double seconds = TimeStep(kind, batch, size, repetitions);
            output.WriteLine($"{kind,-10} {batch,5} {size + "x" + size,9} {seconds,8:F3} {batch / seconds,9:F1}");
        }
    }

    private static double TimeStep(NetworkKind kind, int batch, int size, int repetitions)
    {
        TorchRuntime.SetSeed(0);
        using var net = NetworkFactory.Create(kind, 2, new ImageShape(3, size, size));
        net.train();
        using var optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9);
        using var x = randn(batch, 3, size, size);
        using var y = randint(0, 2, [batch], dtype: ScalarType.Int64);
        return StepTimer.MedianSeconds(() =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(net.forward(x), y);
            loss.backward();
            optimizer.step();
        }, repetitions);
    }
}
