using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// Training from features held in memory against features in a memory-mapped file (<see cref="FeatureCache"/>):
/// the time to read the data view into each, and the training-step time, as ratios to memory from this one run.
/// The file is fresh, so its pages are in the operating system's cache: this measures the mapping's overhead, not a
/// disk's speed.
/// </summary>
internal static class FeatureCacheBenchmark
{
    private const int Size = 64;

    public static void Run(TextWriter output, bool quick)
    {
        int rows = quick ? 128 : 4096;
        output.WriteLine($"## Feature cache: {rows} rows of 3x{Size}x{Size} bytes, SmallCnn, batch 64, 2 epochs");
        output.WriteLine($"{"cache",-7} {"read s",7} {"s/step",7} {"read x",7} {"step x",7}");
        var ml = new MLContext(0);
        var data = DataView(ml, rows);
        Measure(ml, data, FeatureCache.Memory); // warm-up: JIT, allocator, libtorch threads
        (double Read, double Step)? memory = null;
        foreach (var cache in new[] { FeatureCache.Memory, FeatureCache.Disk })
        {
            var (read, step) = Measure(ml, data, cache);
            memory ??= (read, step);
            output.WriteLine($"{cache,-7} {read,7:F2} {step,7:F3} {read / memory.Value.Read,7:F2} {step / memory.Value.Step,7:F2}");
        }
    }

    private static (double Read, double Step) Measure(MLContext ml, IDataView data, FeatureCache cache)
    {
        // Reading: a Fit whose token is already cancelled reads the data view (and builds the network), then stops
        // before its first step.
        var read = Stopwatch.StartNew();
        try
        {
            ml.MulticlassClassification.Trainers.Erm(Options(cache, new CancellationToken(canceled: true), null)).Fit(data).Dispose();
            throw new InvalidOperationException("A cancelled Fit trained.");
        }
        catch (OperationCanceledException)
        {
            read.Stop();
        }

        // Steps: the median interval between step reports, the first (which follows reading) left out.
        var stepTimes = new List<double>();
        var watch = Stopwatch.StartNew();
        using var model = ml.MulticlassClassification.Trainers.Erm(Options(cache, default,
            new Inline<StepReport>(_ => { stepTimes.Add(watch.Elapsed.TotalSeconds); watch.Restart(); }))).Fit(data);
        if (model.History.FeaturesOnDisk != (cache == FeatureCache.Disk)) throw new InvalidOperationException($"FeatureCache {cache} was not used.");
        var steps = stepTimes.Skip(1).Order().ToArray();
        return (read.Elapsed.TotalSeconds, steps[steps.Length / 2]);
    }

    private static ErmTrainer.Options Options(FeatureCache cache, CancellationToken token, IProgress<StepReport>? steps) => new()
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = 16, NumberOfEpochs = 2, BatchSize = 64, Seed = 0,
        Device = TrainingDevice.Cpu, FeatureCache = cache, CancellationToken = token, StepProgress = steps,
    };

    private static IDataView DataView(MLContext ml, int rows)
    {
        var random = new Random(0);
        var items = Enumerable.Range(0, rows).Select(i => new Row
        {
            Features = Enumerable.Range(0, 3 * Size * Size).Select(_ => random.Next(256) / 255f).ToArray(),
            Label = i % 2 == 0 ? "even" : "odd",
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(items);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
    }

    private sealed class Row
    {
        [VectorType(3, Size, Size)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class Inline<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
