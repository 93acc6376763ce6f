using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// ERM epoch time in a fresh process, alone and beside a second training process, with the library's passive OpenMP
/// waiting and without it (the AppContext switch that keeps the library from setting <c>OMP_WAIT_POLICY</c>, with the
/// variable unset: libtorch's own default). Each configuration is its own child process of this program
/// (<see cref="ChildCommand"/>), because OpenMP reads the variable once, when libtorch loads.
/// </summary>
internal static class OpenMpBenchmark
{
    /// <summary>The hidden command that runs one measured training (or, with <c>--load</c>, trains until killed).</summary>
    public const string ChildCommand = "openmp-child";

    /// <summary>The child's flag for "without the library's setting".</summary>
    public const string KeepFlag = "--keep-wait-policy";

    /// <summary>The child's flag for "the application calls TorchSharp before it first uses the library".</summary>
    public const string TorchFirstFlag = "--torch-first";

    private const string Variable = "OMP_WAIT_POLICY";

    public static void Run(TextWriter output, bool quick)
    {
        output.WriteLine("## OpenMP wait policy: ERM epoch (SmallCnn, fresh process each), alone and beside a second training process");
        int rows = quick ? 256 : 4096;
        int epochs = quick ? 1 : 3;
        output.WriteLine($"{rows} rows of 3x32x32, batch 64, median of {epochs} epoch(s) after one warm-up epoch; the second process trains the same");
        output.WriteLine($"{"configuration",-34} {"s/epoch",8} {"CPU s/epoch",12} {"policy",9}");
        var results = new Dictionary<(bool Passive, bool Beside), ChildResult>();
        foreach (bool passive in new[] { true, false })
            foreach (bool beside in new[] { false, true })
            {
                var result = Measure(passive, beside, rows, epochs);
                results[(passive, beside)] = result;
                string name = (passive ? "library setting (PASSIVE)" : "without (libtorch default)") + (beside ? ", beside" : ", alone");
                output.WriteLine($"{name,-34} {result.EpochSeconds,8:F3} {result.CpuSecondsPerEpoch,12:F3} {result.Policy,9}");
            }
        double Ratio((bool, bool) a, (bool, bool) b) => results[a].EpochSeconds / results[b].EpochSeconds;
        output.WriteLine($"ratio beside/alone: PASSIVE {Ratio((true, true), (true, false)):F2}x, without {Ratio((false, true), (false, false)):F2}x; " +
                         $"beside, without/PASSIVE {Ratio((false, true), (true, true)):F2}x; alone, without/PASSIVE {Ratio((false, false), (true, false)):F2}x");
        output.WriteLine("CPU s/epoch: processor time of the measured process per epoch (user + system, all threads): spinning threads burn it without doing work");
    }

    /// <summary>One child's numbers.</summary>
    internal sealed record ChildResult(double EpochSeconds, string Policy, string Source, double CpuSecondsPerEpoch);

    private static ChildResult Measure(bool passive, bool beside, int rows, int epochs)
    {
        using var load = beside ? Start(passive, rows, epochs, load: true) : null;
        try
        {
            if (load is not null) WaitForLine(load, "training");
            using var measured = Start(passive, rows, epochs, load: false);
            string text = measured.StandardOutput.ReadToEnd();
            string errors = measured.StandardError.ReadToEnd();
            measured.WaitForExit();
            if (measured.ExitCode != 0) throw new InvalidOperationException($"The measured child failed ({measured.ExitCode}): {errors}");
            return Parse(text);
        }
        finally
        {
            if (load is not null && !load.HasExited) load.Kill(entireProcessTree: true);
            load?.WaitForExit();
        }
    }

    /// <summary>Parses the child's <c>result key=value ...</c> line.</summary>
    internal static ChildResult Parse(string text)
    {
        var values = ChildProcess.ResultValues(text);
        if (!values.ContainsKey("epoch_seconds")) throw new InvalidOperationException($"The child printed no epoch time: {text}");
        return new ChildResult(values.Number("epoch_seconds"), values["policy"], values["source"], values.Number("cpu_seconds"));
    }

    /// <summary>Starts this program's child command in a fresh process with <c>OMP_WAIT_POLICY</c> removed from its environment,
    /// then <paramref name="environment"/> added; <paramref name="extraArguments"/> (e.g. <see cref="TorchFirstFlag"/>) go last.</summary>
    internal static Process Start(bool passive, int rows, int epochs, bool load, IReadOnlyDictionary<string, string>? environment = null,
        IEnumerable<string>? extraArguments = null)
    {
        var arguments = new List<string> { ChildCommand, "--rows", rows.ToString(CultureInfo.InvariantCulture), "--epochs", epochs.ToString(CultureInfo.InvariantCulture) };
        if (load) arguments.Add("--load");
        if (!passive) arguments.Add(KeepFlag);
        arguments.AddRange(extraArguments ?? []);
        return ChildProcess.Start(arguments, environment, remove: [Variable]);
    }

    private static void WaitForLine(Process process, string prefix)
    {
        while (process.StandardOutput.ReadLine() is { } line)
            if (line.StartsWith(prefix, StringComparison.Ordinal)) return;
        throw new InvalidOperationException($"The load process ended before it started training: {process.StandardError.ReadToEnd()}");
    }

    /// <summary>
    /// The child: trains ERM on random images and prints
    /// <c>result epoch_seconds=… cpu_seconds=… policy=… source=… threads=…</c> (the median epoch after the first, the
    /// process's processor time per epoch, and the wait policy read from the native environment after <c>Fit</c>). With
    /// <c>--load</c> it prints <c>training</c> and trains until it is killed. <see cref="KeepFlag"/> and
    /// <see cref="TorchFirstFlag"/> must be handled before the library is used: <c>Program.cs</c> does that first.
    /// </summary>
    public static int RunChild(string[] args, TextWriter output)
    {
        int rows = 256, epochs = 1;
        bool load = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rows": rows = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--epochs": epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--load": load = true; break;
                case KeepFlag or TorchFirstFlag: break;
                default: Console.Error.WriteLine($"error: unknown argument '{args[i]}'."); return 2;
            }
        }

        var ml = new MLContext(0);
        var random = new Random(1);
        var data = ml.Data.LoadFromEnumerable(Enumerable.Range(0, rows).Select(i => new Row
        {
            Label = (i % 2).ToString(CultureInfo.InvariantCulture),
            Features = Enumerable.Range(0, 3 * 32 * 32).Select(_ => (float)random.NextDouble()).ToArray(),
        }).ToList());
        data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var seconds = new List<double>();
        var cpu = new List<TimeSpan>();
        var process = Process.GetCurrentProcess();
        var options = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 16, BatchSize = 64, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam,
            NumberOfEpochs = load ? 1_000_000 : epochs + 1, Device = TrainingDevice.Cpu, ImageShape = new ImageShape(3, 32, 32),
            Progress = new ImmediateProgress<EpochReport>(r =>
            {
                seconds.Add(r.Seconds);
                process.Refresh();
                cpu.Add(process.TotalProcessorTime);
            }),
        };
        if (load)
        {
            output.WriteLine("training");
            output.Flush();
        }
        using (ml.MulticlassClassification.Trainers.Erm(options).Fit(data)) { }

        var timed = seconds.Skip(1).Order().ToList();
        double cpuPerEpoch = (cpu[^1] - cpu[0]).TotalSeconds / (cpu.Count - 1);
        output.WriteLine(FormattableString.Invariant(
            $"result epoch_seconds={timed[timed.Count / 2]:F4} cpu_seconds={cpuPerEpoch:F4} policy={TorchRuntime.OpenMpWaitPolicyValue ?? "unset"} source={TorchRuntime.OpenMpWaitPolicySource} threads={TorchRuntime.NumberOfThreads}"));
        return 0;
    }

    private sealed class Row
    {
        public string Label { get; set; } = "";

        [VectorType(3 * 32 * 32)]
        public float[] Features { get; set; } = [];
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; posts to the thread pool, which may run after Fit returns).</summary>
    private sealed class ImmediateProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
