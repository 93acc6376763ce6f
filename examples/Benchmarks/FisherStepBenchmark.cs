using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

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
        // The trainer's defaults constrain the top k rows of a batch.
        int? defaultTopK = new FlatDebiasTrainer.Options().TopK;
        output.WriteLine("## FlatDebias step cost relative to an ERM step (all multipliers positive; 2 classes; SGD)");
        output.WriteLine($"{"network",-9} {"batch",5} {"size",4} {"estimator",-9} {"ERM s",8} {"Head x",7} {"Full x",7} {"Full25 x",8} {"Loop x",7} {"Loop/Full",9} {"Default x",9}");
        var cases = quick
            ? new[] { (NetworkKind.SmallCnn, 8, 28, 16, 1) }
            : new[] { (NetworkKind.SmallCnn, 64, 28, 32, 5), (NetworkKind.ResNet18, 32, 32, 64, 3), (NetworkKind.ResNet18, 32, 112, 64, 2) };
        foreach (var (kind, batch, size, width, repetitions) in cases)
        {
            foreach (var estimator in new[] { TraceEstimator.Empirical, TraceEstimator.Exact })
            {
                TraceSettings?[] settings =
                [
                    null,
                    new TraceSettings(TraceScope.Head, estimator, TraceGradient.Full),
                    new TraceSettings(TraceScope.Full, estimator, TraceGradient.Full),
                    new TraceSettings(TraceScope.Full, estimator, TraceGradient.Full, UseReferenceLoop: true),
                    // The trainer's defaults: head-layer trace, the loss as the penalty (no second-order pass).
                    new TraceSettings(TraceScope.Head, estimator, TraceGradient.Loss),
                    // The paper's setting between the extremes: a quarter of the rows with a positive multiplier.
                    new TraceSettings(TraceScope.Full, estimator, TraceGradient.Full),
                ];
                var steps = settings.Select((s, i) => new Step(kind, batch, size, width, s, topK: i == 4 ? defaultTopK : null, positiveShare: i == 5 ? 0.25 : 1)).ToList();
                try
                {
                    // The slow loop is timed in fewer rounds.
                    var times = StepTimer.InterleavedMedianSeconds(steps.Select(st => (Action)st.Run).ToList(), repetitions,
                        [repetitions, repetitions, repetitions, Math.Max(1, repetitions / 3), repetitions, repetitions]);
                    double erm = times[0], head = times[1], full = times[2], loop = times[3], defaults = times[4], quarter = times[5];
                    output.WriteLine($"{kind,-9} {batch,5} {size,4} {estimator,-9} {erm,8:F3} {head / erm,7:F2} {full / erm,7:F2} {quarter / erm,8:F2} {loop / erm,7:F1} {loop / full,9:F1} {defaults / erm,9:F2}");
                }
                finally
                {
                    foreach (var step in steps) step.Dispose();
                }
            }
        }
        output.WriteLine($"Head, Full and Loop penalise the trace itself; Full25 is Full with a quarter of the multipliers positive (the others get values only); Default is the trainer's default (head trace, loss penalty, top {defaultTopK} rows per batch).");
        output.WriteLine("Targets: Head <= 1.1x, Full <= 4x, loop/full >= 8x.");
    }

    /// <summary>One configuration's training step on its own network, optimiser and batch.</summary>
    private sealed class Step : IDisposable
    {
        private readonly ClassifierNetwork net;
        private readonly TorchSharp.Modules.OptimizerHelper optimizer;
        private readonly Tensor x, y, rows;
        private readonly TraceConstraint constraint;
        private readonly TraceSettings? settings;

        public Step(NetworkKind kind, int batch, int size, int width, TraceSettings? settings, int? topK, double positiveShare = 1)
        {
            this.settings = settings;
            TorchRuntime.SetSeed(0);
            net = NetworkFactory.Create(kind, 2, new ImageShape(3, size, size), width);
            net.train();
            optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9);
            x = randn(batch, 3, size, size);
            y = randint(0, 2, [batch], dtype: ScalarType.Int64);
            rows = arange(batch, dtype: ScalarType.Int64);
            constraint = new TraceConstraint(batch, 0.1, 10, topK);
            constraint.SetBound(0);
            int positive = Math.Max(1, (int)Math.Round(batch * positiveShare));
            using var above = torch.ones(positive) * 1000;
            using var positiveRows = arange(positive, dtype: ScalarType.Int64);
            constraint.Update(positiveRows, above); // the first rows' multipliers positive (all of them by default)
        }

        public void Run()
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
        }

        public void Dispose()
        {
            optimizer.Dispose();
            net.Dispose();
            x.Dispose();
            y.Dispose();
            rows.Dispose();
        }
    }
}
