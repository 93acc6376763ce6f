using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Transforms;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// Forward-only feature extraction with the built-in ImageNet ResNet-18 at 224 x 224 on a CPU, by engine: ONNX Runtime
/// through ML.NET's <c>ApplyOnnxModel</c> (one row per call: what <see cref="PretrainedFeaturesEstimator"/> runs and saves),
/// ONNX Runtime on batches of 32 (what <see cref="FeatureFile"/> runs when it makes a file), and TorchSharp in evaluation mode without gradients on batches. The images are
/// preprocessed vectors already in memory, so only the backbone is timed; every engine sees the same images, and the
/// largest difference of its features from TorchSharp's is printed (they must agree).
/// </summary>
public static class FeatureExtractionBenchmark
{
    /// <summary>One engine's measurement.</summary>
    /// <param name="Engine">What ran.</param>
    /// <param name="Batch">Images per call.</param>
    /// <param name="Images">Images timed.</param>
    /// <param name="Seconds">Wall-clock seconds for them (after an untimed warm-up).</param>
    /// <param name="MaxDifference">Largest absolute difference of a feature from TorchSharp's, over the timed images.</param>
    public sealed record Result(string Engine, int Batch, int Images, double Seconds, double MaxDifference)
    {
        /// <summary>Images per second.</summary>
        public double ImagesPerSecond => Images / Seconds;
    }

    /// <summary>Measures the engines on <paramref name="images"/> random 3x224x224 inputs.</summary>
    /// <param name="images">Images to time per engine.</param>
    /// <param name="batch">Batch size of the batched engines.</param>
    /// <returns>One result per engine, ApplyOnnxModel first; and the largest feature value (for scale).</returns>
    public static (IReadOnlyList<Result> Results, double LargestFeature) Measure(int images, int batch)
    {
        using var backbone = FeatureBackbone.ImageNetResNet18();
        int size = backbone.InputShape.Size, dim = backbone.FeatureDimension;
        var random = new Random(0);
        var pixels = new float[images][];
        for (int i = 0; i < images; i++)
        {
            pixels[i] = new float[size];
            for (int j = 0; j < size; j++) pixels[i][j] = (float)(random.NextDouble() * 4 - 2); // ImageNet-normalised range
        }

        // TorchSharp, batched, evaluation mode, no gradients: the reference the others are compared with.
        var torchFeatures = new float[images][];
        void Torch(int from, int count)
        {
            using var scope = NewDisposeScope();
            var input = tensor(pixels.Skip(from).Take(count).SelectMany(p => p).ToArray(), [count, size]);
            var output = backbone.Extract(input).contiguous().data<float>().ToArray();
            for (int i = 0; i < count; i++) torchFeatures[from + i] = output.AsSpan(i * dim, dim).ToArray();
        }
        var results = new List<Result>();
        var torchSeconds = TimeBatches(images, batch, Torch);

        // ML.NET ApplyOnnxModel: the transform's own engine, one row per call.
        var ml = new MLContext(seed: 0);
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[nameof(PixelRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, size);
        var data = ml.Data.LoadFromEnumerable(pixels.Select(p => new PixelRow { Features = p }), definition);
        var transformer = ml.Transforms.PretrainedFeatures(backbone).Fit(data);
        ReadFeatures(transformer.Transform(ml.Data.TakeRows(data, 1)), null); // warm-up: ONNX Runtime session and JIT
        var mlnetFeatures = new float[images][];
        var watch = Stopwatch.StartNew();
        ReadFeatures(transformer.Transform(data), mlnetFeatures);
        results.Add(new Result("ONNX Runtime via ML.NET ApplyOnnxModel", 1, images, watch.Elapsed.TotalSeconds, MaxDifference(mlnetFeatures, torchFeatures)));

        // ONNX Runtime on batches of 32, as FeatureFile.LoadOrCreate(..., features, ...) runs it when it makes a file.
        var batchedFeatures = new float[images][];
        var batchedSeconds = TimeBatches(images, images, (from, count) =>
        {
            var rows = transformer.ExtractBatched(from == 0 && count == images ? data : ml.Data.TakeRows(data, count), null);
            var got = ReadFeatures(rows, count);
            for (int i = 0; i < count; i++) batchedFeatures[from + i] = got[i];
        }, warmUp: Math.Min(batch, images));
        results.Add(new Result($"ONNX Runtime on batches (FeatureFile)", BatchedFeatureExtractorBatch, images, batchedSeconds, MaxDifference(batchedFeatures, torchFeatures)));
        results.Add(new Result("TorchSharp, eval + no_grad", batch, images, torchSeconds, 0));
        return (results, torchFeatures.Max(f => f.Max(Math.Abs)));
    }

    /// <summary>Prints the table.</summary>
    internal static void Run(TextWriter output, bool quick)
    {
        int images = quick ? 4 : 256, batch = quick ? 2 : 32;
        output.WriteLine($"## Feature extraction: built-in ImageNet ResNet-18, 3x224x224 -> 512 features, {images} images per engine after a warm-up");
        var (results, largest) = Measure(images, batch);
        var reference = results[0].ImagesPerSecond;
        output.WriteLine($"{"engine",-40} {"batch",5} {"images/s",9} {"vs ApplyOnnxModel",18} {"max |diff| vs TorchSharp",25}");
        foreach (var r in results)
            output.WriteLine($"{r.Engine,-40} {r.Batch,5} {r.ImagesPerSecond,9:F1} {r.ImagesPerSecond / reference,17:F2}x {r.MaxDifference,25:G3}");
        output.WriteLine($"largest |feature| {largest:F2}; 11,788 Waterbirds images at the fastest rate: {11788 / results.Max(r => r.ImagesPerSecond) / 60:F1} min (backbone only)");
    }

    private const int BatchedFeatureExtractorBatch = 32;

    private static double TimeBatches(int images, int batch, Action<int, int> run, int? warmUp = null)
    {
        run(0, warmUp ?? Math.Min(batch, images)); // warm-up, not timed
        var watch = Stopwatch.StartNew();
        for (int from = 0; from < images; from += batch) run(from, Math.Min(batch, images - from));
        return watch.Elapsed.TotalSeconds;
    }

    private static float[][] ReadFeatures(IDataView data, int rows)
    {
        var into = new float[rows][];
        ReadFeatures(data, into);
        return into;
    }

    private static void ReadFeatures(IDataView data, float[][]? into)
    {
        var column = data.Schema["Features"];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var value = default(VBuffer<float>);
        int row = 0;
        while (cursor.MoveNext())
        {
            getter(ref value);
            if (into is not null) into[row] = value.DenseValues().ToArray();
            row++;
        }
    }

    private static double MaxDifference(float[][] a, float[][] b)
        => a.Zip(b).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));

    private sealed class PixelRow
    {
        public float[] Features { get; set; } = [];
    }
}
