using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Mnist;
using SkiaSharp;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// Reading speed of the Waterbirds input pipeline: <c>LoadWaterbirds</c> (metadata and image header checks) and
/// <c>ImageNetPreprocessing</c> (decode, resize to 256, crop 224, normalise), read once through a single cursor as a
/// trainer reads its training split on every <c>Fit</c>.
/// </summary>
public static class PreprocessingBenchmark
{
    /// <summary>Size of Waterbirds' training split, to turn a rate into seconds per <c>Fit</c>.</summary>
    private const int WaterbirdsTrainImages = 4795;

    /// <summary>One measurement.</summary>
    /// <param name="Images">Images decoded and preprocessed.</param>
    /// <param name="LoadSeconds">Time of <c>LoadWaterbirds</c> (metadata parsed, image files and headers checked), all splits' rows of the folder.</param>
    /// <param name="PreprocessSeconds">Time to read every <c>Features</c> vector once.</param>
    public sealed record Result(int Images, double LoadSeconds, double PreprocessSeconds)
    {
        /// <summary>Preprocessed images per second.</summary>
        public double ImagesPerSecond => Images / PreprocessSeconds;
    }

    /// <summary>Loads a Waterbirds-format folder and times one pass of the preprocessing over a split.</summary>
    /// <param name="waterbirdsRoot">A folder with <c>metadata.csv</c> (the real dataset, or one written by <see cref="WaterbirdsMnist"/>).</param>
    /// <param name="split">The split to read (default the training split); null for all rows.</param>
    /// <param name="maxImages">Read at most this many images (default all).</param>
    /// <param name="resize">Resize side in pixels (default 256).</param>
    /// <param name="crop">Crop side in pixels (default 224).</param>
    /// <returns>Counts and times.</returns>
    public static Result Measure(string waterbirdsRoot, WaterbirdsSplit? split = WaterbirdsSplit.Train, int? maxImages = null,
        int resize = ImageNetPreprocessingEstimator.DefaultResize, int crop = ImageNetPreprocessingEstimator.DefaultCrop)
    {
        var ml = new MLContext(seed: 0);
        var watch = Stopwatch.StartNew();
        var data = ml.Data.LoadWaterbirds(waterbirdsRoot, split);
        double load = watch.Elapsed.TotalSeconds;
        if (maxImages is { } max) data = ml.Data.TakeRows(data, max);
        var output = ml.Transforms.ImageNetPreprocessing(resize: resize, crop: crop).Fit(data).Transform(data);

        ReadFeatures(ml.Data.TakeRows(output, WarmUpImages));  // JIT and native libraries, not timed
        watch.Restart();
        int images = ReadFeatures(output);
        return new Result(images, load, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Images read before timing, so that the time is the steady state of a second and later Fit.</summary>
    private const int WarmUpImages = 8;

    private static int ReadFeatures(IDataView data)
    {
        int images = 0;
        var column = data.Schema["Features"];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var features = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getter(ref features);
            images++;
        }
        return images;
    }

    /// <summary>Prints the table: photo-sized JPEGs (the size of Waterbirds' images) and, unless quick, the MNIST-made folder.</summary>
    internal static void Run(TextWriter output, bool quick)
    {
        output.WriteLine("## Preprocessing: LoadWaterbirds + ImageNetPreprocessing (resize 256, crop 224), one pass after a warm-up, one cursor");
        output.WriteLine($"{"source",-34} {"images",6} {"load s",7} {"images/s",9} {"s per Waterbirds train",23}");
        var root = Path.Combine(Path.GetTempPath(), $"flatdebias-preprocessing-benchmark-{Guid.NewGuid():N}");
        try
        {
            int photos = quick ? 8 : 300;
            WriteSyntheticPhotos(Path.Combine(root, "photos"), photos, 500, 375);
            Print(output, "JPEG 500x375 (Waterbirds-sized)", Measure(Path.Combine(root, "photos")));
            if (!quick)
            {
                var mnist = WaterbirdsMnist.Write(Path.Combine(root, "mnist"), MnistDataset.Load(), scaleDivisor: 10, seed: 0, imageSize: 64);
                Print(output, "PNG 64x64 (WaterbirdsMnist, /10)", Measure(mnist));
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    private static void Print(TextWriter output, string source, Result r)
        => output.WriteLine($"{source,-34} {r.Images,6} {r.LoadSeconds,7:F2} {r.ImagesPerSecond,9:F1} {WaterbirdsTrainImages / r.ImagesPerSecond,23:F1}");

    /// <summary>A Waterbirds-format folder of <paramref name="count"/> training JPEGs with smooth gradients and noise
    /// (decoding cost close to a photograph's at quality 90).</summary>
    private static void WriteSyntheticPhotos(string root, int count, int width, int height)
    {
        Directory.CreateDirectory(Path.Combine(root, "images"));
        var random = new Random(0);
        var lines = new List<string> { "img_id,img_filename,y,split,place,place_filename" };
        var pixels = new byte[width * height * 4];
        for (int i = 0; i < count; i++)
        {
            for (int y = 0, p = 0; y < height; y++)
                for (int x = 0; x < width; x++, p += 4)
                {
                    pixels[p] = (byte)((x + i * 7) % 256);
                    pixels[p + 1] = (byte)((y * 2 + i) % 256);
                    pixels[p + 2] = (byte)random.Next(256);
                    pixels[p + 3] = 255;
                }
            using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
            Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
            using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 90);
            var name = $"images/{i:00000}.jpg";
            File.WriteAllBytes(Path.Combine(root, name), data.ToArray());
            lines.Add($"{i + 1},{name},{i % 2},0,{i / 2 % 2},/x/synthetic/{i}.jpg");
        }
        File.WriteAllLines(Path.Combine(root, "metadata.csv"), lines);
    }
}
