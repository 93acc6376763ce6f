using System.Globalization;
using System.Text.Json;
using MLNet.FlatDebias.Examples.Waterbirds;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// The wall-clock of the main job's frozen-backbone table on the default dataset (<c>./run.sh --frozen-backbone</c>: the
/// Waterbirds-format MNIST set at 224 px, 11,788 images, every image through the built-in ImageNet ResNet-18 once, then
/// every method's head), with an empty feature cache so that the extraction is timed; against the target of 10 minutes
/// on 2 cores for the three-method table with extraction.
/// </summary>
public static class FrozenTableBenchmark
{
    /// <summary>The target for the whole table with extraction, in seconds (10 minutes on 2 cores).</summary>
    public const double TargetSeconds = 600;

    /// <summary>Runs the table and prints the times.</summary>
    internal static void Run(TextWriter output, bool quick)
    {
        output.WriteLine($"## Frozen-backbone table: ./run.sh --frozen-backbone{(quick ? " --quick" : "")} with an empty feature cache");
        var root = Path.Combine(Path.GetTempPath(), $"flatdebias-frozen-benchmark-{Guid.NewGuid():N}");
        try
        {
            var log = new StringWriter();
            string[] args = ["--frozen-backbone", "--feature-cache", Path.Combine(root, "features"), "--output", Path.Combine(root, "out"), .. quick ? ["--quick"] : Array.Empty<string>()];
            int code = WaterbirdsExample.Run(args, log);
            if (code != 0) throw new InvalidOperationException($"The frozen-backbone run failed (exit {code}):\n{log}");
            using var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "out", WaterbirdsExample.ResultsFile)));
            var r = results.RootElement;
            int images = r.GetProperty("extraction").GetProperty("splits").EnumerateArray().Sum(s => s.GetProperty("rows").GetInt32());
            double dataset = r.GetProperty("datasetSeconds").GetDouble(), extraction = r.GetProperty("extractionSeconds").GetDouble();
            double training = r.GetProperty("trainingSeconds").GetDouble(), total = r.GetProperty("seconds").GetDouble();
            var methods = r.GetProperty("methods").EnumerateArray().ToDictionary(m => m.GetProperty("method").GetString()!, m => m.GetProperty("seconds").GetDouble());
            double threeMethods = methods["ERM"] + methods["GroupDRO"] + r.GetProperty("epsilonSearch").EnumerateArray()
                .Take(r.GetProperty("settings").GetProperty("quantiles").GetArrayLength()).Sum(c => c.GetProperty("seconds").GetDouble());
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"stage",-58} {"seconds",8}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"dataset folder (built once, then found in the cache)",-58} {dataset,8:F1}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{$"features of {images} images (decode, preprocess, backbone)",-58} {extraction,8:F1}  ({images / extraction:F1} images/s)"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"ERM + GroupDRO + FlatDebias bound search (the paper's table)",-58} {threeMethods,8:F1}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"all methods (paper-exact FlatDebias, JTT, PGD, LfF, DFR too)",-58} {training,8:F1}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"whole run (reports, charts, saved models included)",-58} {total,8:F1}"));
            double table = extraction + threeMethods;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"three-method table with extraction: {table / 60:F1} min = {table / TargetSeconds:F2} x the 10-minute target{(quick ? " (quick: a twentieth of the images)" : "")}"));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }
}
