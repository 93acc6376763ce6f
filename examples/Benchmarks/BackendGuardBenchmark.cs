using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// What correct convolutions cost on this CPU: an ERM step with the library's default (the full instruction set, the
/// convolution guard computing around wrong kernels: <see cref="TorchRuntime.ConvolutionGuard"/>), with the guard off
/// (fastest, and wrong where the backend has defects), and with oneDNN capped at AVX2 (<c>DNNL_MAX_CPU_ISA=AVX2</c>, guarded
/// too: its AVX2 kernels have the same defects at multiples of 8), each in a fresh process of this program (<see cref="ChildCommand"/>), because oneDNN reads its cap
/// once; plus the guard's one-time checks. The child's <see cref="ScoresFlag"/> mode trains a small network through the
/// public API and prints its scores, which the tests compare across those settings.
/// </summary>
internal static class BackendGuardBenchmark
{
    /// <summary>The hidden command that runs one measured configuration.</summary>
    public const string ChildCommand = "backend-child";

    /// <summary>The child's flag for "train through the public API and print the scores" (instead of timing steps).</summary>
    public const string ScoresFlag = "--scores";

    /// <summary>The child's flag that also trains and validates a ResNet-18 (for the quiet-console test).</summary>
    public const string ResNetFlag = "--resnet";

    /// <summary>The child's flag, with a value, for "the application sets DNNL_MAX_CPU_ISA through .NET before it first uses
    /// the library", handled in <c>Program.cs</c>.</summary>
    public const string CapThroughDotnetFlag = "--cap-through-dotnet";

    private static readonly Dictionary<string, string> Unguarded = new() { ["MLNET_FLATDEBIAS_CONVOLUTION_GUARD"] = "off" };
    private static readonly Dictionary<string, string> Avx2 = new() { ["DNNL_MAX_CPU_ISA"] = "AVX2" };

    public static void Run(TextWriter output, bool quick)
    {
        output.WriteLine("## Correct convolutions: ERM step (forward + backward + SGD), each configuration in a fresh process");
        output.WriteLine($"CPU: {CpuDescription.Current}");
        var cases = quick
            ? new[] { (NetworkKind.SmallCnn, 4, 28, 16, 2) }
            : new[] { (NetworkKind.SmallCnn, 4, 28, 64, 200), (NetworkKind.SmallCnn, 6, 28, 64, 200), (NetworkKind.SmallCnn, 16, 28, 64, 100), (NetworkKind.ResNet18, 64, 224, 8, 7) };
        output.WriteLine($"{"network",-9} {"width",5} {"image",6} {"batch",5} {"guarded s",10} {"unguarded s",11} {"AVX2 s",8} {"guarded/unguarded",17} {"AVX2/guarded",12} {"not direct",10} {"check s",8} {"defects",7}");
        // Step times of small networks differ between processes by up to 2x: each configuration runs in several processes,
        // in turns, and the median process counts.
        int processes = quick ? 1 : 5;
        foreach (var (kind, width, size, batch, steps) in cases)
        {
            string[] arguments = [ChildCommand, "--network", kind.ToString(), "--width", Text(width), "--size", Text(size), "--batch", Text(batch), "--steps", Text(steps)];
            var timeout = TimeSpan.FromMinutes(10);
            (Dictionary<string, string>? Environment, List<Dictionary<string, string>> Results)[] runs = [(null, []), (Unguarded, []), (Avx2, [])];
            for (int p = 0; p < processes; p++)
                foreach (var (environment, results) in runs)
                    results.Add(ChildProcess.ResultValues(ChildProcess.Run(arguments, environment, timeout).Output));
            var medians = runs.Select(r => r.Results.Select(v => v.Number("step_seconds")).Order().ElementAt(processes / 2)).ToArray();
            var guarded = runs[0].Results[0];
            double seconds = medians[0], fast = medians[1], safe = medians[2];
            output.WriteLine(FormattableString.Invariant(
                $"{kind,-9} {width,5} {size + "px",6} {batch,5} {seconds,10:F4} {fast,11:F4} {safe,8:F4} {seconds / fast,17:F2} {safe / seconds,12:F2} {guarded["not_direct"],10} {guarded.Number("check_seconds"),8:F2} {runs[1].Results[0]["defects"],7}"));
        }
        output.WriteLine("guarded: the library's default (full instruction set; not direct: shapes the guard padded or unfolded; check s: its one-time checks);");
        output.WriteLine("unguarded: MLNET_FLATDEBIAS_CONVOLUTION_GUARD=off (wrong where defects is True: the probes of the known defects);");
        output.WriteLine($"AVX2: DNNL_MAX_CPU_ISA=AVX2, guarded too (oneDNN's AVX2 kernels are wrong for channel counts that are not a multiple of 8).");
        output.WriteLine($"Times: medians of {(quick ? "one process" : "5 processes")} per configuration, in turns.");
    }

    /// <summary>
    /// The child: with <see cref="ScoresFlag"/>, trains an ERM SmallCnn through the public API on a fixed synthetic set and
    /// prints <c>result scores=… not_direct=… cap=…</c> (every row's class-1 probability, round-trip precision); with
    /// <see cref="ResNetFlag"/> it also trains and validates a ResNet-18. Otherwise it times ERM steps of one network and
    /// prints <c>result step_seconds=… check_seconds=… not_direct=… defects=… cap=…</c>.
    /// </summary>
    public static int RunChild(string[] args, TextWriter output)
    {
        var kind = NetworkKind.SmallCnn;
        int width = 4, size = 28, batch = 16, steps = 2;
        bool scores = false, resnet = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--network": kind = Enum.Parse<NetworkKind>(args[++i]); break;
                case "--width": width = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--size": size = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--steps": steps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case ScoresFlag: scores = true; break;
                case ResNetFlag: resnet = true; break;
                case CapThroughDotnetFlag: i++; break;
                default: Console.Error.WriteLine($"error: unknown argument '{args[i]}'."); return 2;
            }
        }
        string result = scores ? TrainAndScore(width, resnet) : TimeSteps(kind, width, size, batch, steps);
        var report = TorchRuntime.ConvolutionGuardReport;
        int notDirect = report.Paths.Values.Count(p => p != ConvolutionPath.Direct);
        double checkSeconds = report.Seconds;
        bool defects = !scores && TorchRuntime.ConvolutionBackendDefective; // the probes run after the measured work
        output.WriteLine(FormattableString.Invariant(
            $"result {result} check_seconds={checkSeconds:F3} not_direct={notDirect} defects={defects} guard={report.Mode} cap={TorchRuntime.OneDnnInstructionSetValue ?? "none"}"));
        return 0;
    }

    private static string TimeSteps(NetworkKind kind, int width, int size, int batch, int steps)
    {
        TorchRuntime.SetSeed(0);
        using var net = NetworkFactory.Create(kind, 2, new ImageShape(3, size, size), width);
        net.train();
        using var optimizer = optim.SGD(net.parameters(), 0.01, momentum: 0.9);
        using var x = randn(batch, 3, size, size);
        using var y = randint(0, 2, [batch], dtype: ScalarType.Int64);
        double seconds = StepTimer.MedianSeconds(() =>
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            nn.functional.cross_entropy(net.forward(x), y).backward();
            optimizer.step();
        }, steps);
        return FormattableString.Invariant($"step_seconds={seconds:F5}");
    }

    private static string TrainAndScore(int width, bool resnet)
    {
        var ml = new MLContext(0);
        var data = Images(ml, rows: 96, size: 28, seed: 1);
        var options = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = width, BatchSize = 32, NumberOfEpochs = 2, LearningRate = 1e-2,
            Optimizer = OptimizerKind.Adam, Device = TrainingDevice.Cpu, Seed = 0,
        };
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(data);
        var probabilities = model.Transform(data).GetColumn<float[]>("Score").Select(s => s[1].ToString("R", CultureInfo.InvariantCulture));
        if (resnet)
        {
            // Validation of 33 rows in batches of 32 ends with a single-row batch: the convolutions libtorch does not give oneDNN.
            var options18 = new ErmTrainer.Options
            {
                Network = NetworkKind.ResNet18, BatchSize = 16, NumberOfEpochs = 1, Device = TrainingDevice.Cpu, Seed = 0,
                ValidationSet = Images(ml, rows: 33, size: 32, seed: 2), EvaluationBatchSize = 32,
            };
            using var resNet = ml.MulticlassClassification.Trainers.Erm(options18).Fit(Images(ml, rows: 32, size: 32, seed: 3));
            _ = ml.MulticlassClassification.Evaluate(resNet.Transform(options18.ValidationSet));
        }
        return "scores=" + string.Join(',', probabilities);
    }

    /// <summary>Random 3-channel images whose class shows as a brighter top or bottom half.</summary>
    private static IDataView Images(MLContext ml, int rows, int size, int seed)
    {
        var random = new Random(seed);
        var list = Enumerable.Range(0, rows).Select(i =>
        {
            var pixels = new float[3 * size * size];
            for (int p = 0; p < pixels.Length; p++)
            {
                bool top = p % (size * size) < size * size / 2;
                pixels[p] = (float)random.NextDouble() + (top == (i % 2 == 0) ? 0.5f : 0f);
            }
            return new ImageRow { Label = (i % 2).ToString(CultureInfo.InvariantCulture), Features = pixels };
        }).ToList();
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        schema[nameof(ImageRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, size, size);
        var view = ml.Data.LoadFromEnumerable(list, schema);
        return ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed class ImageRow
    {
        public string Label { get; set; } = "";

        public float[] Features { get; set; } = [];
    }
}
