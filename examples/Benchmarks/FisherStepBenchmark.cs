using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// Cost of one FlatDebias training step (loss + flatness penalty with every row's multiplier positive, the
/// worst case) relative to a plain ERM step on the same batch, for the head closed form, the fast full-network
/// path and the per-sample reference loop. Ratios come from times measured in this one run.
/// </summary>
internal static class FisherStepBenchmark
{
    public static void Run(TextWriter output, bool quick)
    {
        output.WriteLine("## FlatDebias step cost relative to an ERM step (all multipliers positive; 2 classes; SGD)");
        output.WriteLine($"{"network",-9} {"batch",5} {"estimator",-9} {"ERM s",8} {"Head x",7} {"Full x",7} {"Loop x",7} {"Loop/Full",9} {"Default x",9}");
        var cases = quick
            ? new[] { (NetworkKind.SmallCnn, 8, 28, 16, 1) }
            : new[] { (NetworkKind.SmallCnn, 64, 28, 32, 5), (NetworkKind.ResNet18, 32, 32, 64, 3) };
        foreach (var (kind, batch, size, width, repetitions) in cases)
        {
            foreach (var estimator in new[] { TraceEstimator.Empirical, TraceEstimator.Exact })
            {
                double erm = Time(kind, batch, size, width, repetitions, null);
                double head = Time(kind, batch, size, width, repetitions, new TraceSettings(TraceScope.Head, estimator, TraceGradient.Full));
                double full = Time(kind, batch, size, width, repetitions, new TraceSettings(TraceScope.Full, estimator, TraceGradient.Full));
                double loop = Time(kind, batch, size, width, Math.Max(1, repetitions / 3), new TraceSettings(TraceScope.Full, estimator, TraceGradient.Full, UseReferenceLoop: true));
                // The trainer's defaults: head-layer trace, the loss as the penalty (no second-order pass).
                double defaults = Time(kind, batch, size, width, repetitions, new TraceSettings(TraceScope.Head, estimator, TraceGradient.Loss), topK: 8);
                output.WriteLine($"{kind,-9} {batch,5} {estimator,-9} {erm,8:F3} {head / erm,7:F2} {full / erm,7:F2} {loop / erm,7:F1} {loop / full,9:F1} {defaults / erm,9:F2}");
            }
        }
        output.WriteLine("Head, Full and Loop penalise the trace itself; Default is the trainer's default (head trace, loss penalty, top 8).");
        output.WriteLine("Targets: Head <= 1.1x, Full <= 4x, loop/full >= 8x.");
    }

    private static double Time(NetworkKind kind, int batch, int size, int width, int repetitions, TraceSettings? settings, int? topK = null)
    {
        TorchRuntime.SetSeed(0);
        using var net = NetworkFactory.Create(kind, 2, new ImageShape(3, size, size), width);
        net.train();
        using var optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9);
        using var x = randn(batch, 3, size, size);
        using var y = randint(0, 2, [batch], dtype: ScalarType.Int64);
        using var rows = arange(batch, dtype: ScalarType.Int64);
        var constraint = new TraceConstraint(batch, 0.1, 10, topK);
        constraint.SetBound(0);
        using (var ones = torch.ones(batch) * 1000) constraint.Update(rows, ones); // every multiplier positive
        return StepTimer.MedianSeconds(() =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            Tensor total;
            if (settings is null)
            {
                total = nn.functional.cross_entropy(net.forward(x), y);
            }
            else
            {
                var step = FlatnessPenalty.Compute(net, x, y, null, rows, constraint, settings, null, withPenalty: true);
                total = step.Penalty is null ? step.Loss : step.Loss + step.Penalty;
            }
            total.backward();
            optimizer.step();
        }, repetitions);
    }
}
