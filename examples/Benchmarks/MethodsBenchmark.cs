using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// Every method of the library on one biased set, each at its trainer's defaults (the papers' settings where the paper
/// gives them) with the same network, schedule and seeds: the training time of each relative to ERM's, measured in the
/// same run, and test accuracy, unbiased accuracy and worst-group accuracy per seed. The set is Coloured MNIST with 5 %
/// bias-conflicting training rows (the method study's <c>cmnist5</c>: 20,000 training rows, Mlp 2 x 100, Adam 1e-3,
/// batch 128, 12 epochs), every model taken at its best validation accuracy epoch (validation colours are uniform, so
/// that is the unbiased accuracy; no validation group label is needed except by DFR, which fits its last layer on the
/// validation set's groups). This is not the fair benchmark (no tuning at all, and the defaults of FlatDebias were
/// chosen on this set): it says what each method costs and does out of the box.
/// </summary>
internal static class MethodsBenchmark
{
    public static void Run(TextWriter output, bool quick)
    {
        int trainRows = quick ? 2000 : 20000, validationRows = quick ? 500 : 5000, testRows = quick ? 1000 : 10000;
        int epochs = quick ? 3 : 12;
        int[] seeds = quick ? [0] : [0, 1, 2];
        output.WriteLine("## Methods: each trainer's defaults on Coloured MNIST, 5 % bias-conflicting (cmnist5)");
        output.WriteLine($"{trainRows} training rows, Mlp 2 x 100, Adam 1e-3, batch 128, {epochs} epochs (two-stage methods: 2 more for the " +
                         $"first stage), best validation accuracy epoch; seeds {string.Join(", ", seeds)}");
        var ml = new MLContext(0);
        var splits = ColoredMnist.Create(MnistDataset.Load(), 0.05, seed: 0, trainSize: trainRows, validationSize: validationRows, testSize: testRows);
        var train = ml.Data.Cache(splits.Train.DataView);
        var validation = ml.Data.Cache(splits.Validation.DataView);
        var test = ml.Data.Cache(splits.Test.DataView);

        T Same<T>(T o, int seed) where T : NetworkTrainerOptions
        {
            o.Network = NetworkKind.Mlp; o.NetworkWidth = 100; o.NumberOfEpochs = epochs; o.BatchSize = 128; o.LearningRate = 1e-3;
            o.Optimizer = OptimizerKind.Adam; o.WeightDecay = 0; o.Seed = seed; o.Device = TrainingDevice.Cpu;
            o.ModelSelection = ModelSelection.ValidationAccuracy;
            return o;
        }
        var trainers = ml.MulticlassClassification.Trainers;
        // One untimed epoch first: reading the cached views, JIT and libtorch's start-up would otherwise fall on ERM's time.
        var warmUp = Same(new ErmTrainer.Options(), 0);
        warmUp.NumberOfEpochs = 1;
        using (trainers.Erm(warmUp).Fit(train, validation)) { }
        var results = new List<(string Method, int Seed, double Seconds, double Accuracy, double WorstGroup)>();
        foreach (int seed in seeds)
        {
            (ClassifierNetworkTransformer Model, double Seconds) Timed(Func<ClassifierNetworkTransformer> fit)
            {
                var clock = Stopwatch.StartNew();
                var model = fit();
                return (model, clock.Elapsed.TotalSeconds);
            }
            void Record(string method, ClassifierNetworkTransformer model, double seconds)
            {
                var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(test));
                results.Add((method, seed, seconds, metrics.AverageAccuracy, metrics.WorstGroupAccuracy));
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{method,-10} seed {seed}  {seconds,7:F1} s  unbiased accuracy {100 * metrics.AverageAccuracy,6:F2}  worst group {100 * metrics.WorstGroupAccuracy,6:F2}"));
            }

            var (erm, ermSeconds) = Timed(() => trainers.Erm(Same(new ErmTrainer.Options(), seed)).Fit(train, validation));
            Record("ERM", erm, ermSeconds);
            using (erm)
            {
                // Quick: too few validation rows per (digit, colour) group to split them for the choice of C; one C, no tuning.
                var dfrOptions = quick ? new DfrTrainer.Options { Seed = seed, InverseRegularizationValues = [1], NumberOfRetrains = 2 } : new DfrTrainer.Options { Seed = seed };
                var (dfr, dfrSeconds) = Timed(() => trainers.Dfr(erm, dfrOptions).Fit(validation));
                using (dfr) Record("DFR", dfr, ermSeconds + dfrSeconds);
            }
            foreach (var (name, fit) in new (string, Func<ClassifierNetworkTransformer>)[]
            {
                ("GroupDRO", () => trainers.GroupDro(Same(new GroupDroTrainer.Options(), seed)).Fit(train, validation)),
                ("FlatDebias", () => trainers.FlatDebias(Same(new FlatDebiasTrainer.Options(), seed)).Fit(train, validation)),
                ("JTT", () => trainers.Jtt(Same(new JttTrainer.Options(), seed)).Fit(train, validation)),
                ("PGD", () => trainers.Pgd(Same(new PgdTrainer.Options(), seed)).Fit(train, validation)),
                ("LfF", () => trainers.Lff(Same(new LffTrainer.Options(), seed)).Fit(train, validation)),
            })
            {
                var (model, seconds) = Timed(fit);
                using (model) Record(name, model, seconds);
            }
        }

        output.WriteLine();
        output.WriteLine("| method | training time / ERM's | unbiased accuracy (%) | worst group (%) | worst group, worst seed |");
        output.WriteLine("|---|---|---|---|---|");
        var ermTime = results.Where(r => r.Method == "ERM").ToDictionary(r => r.Seed, r => r.Seconds);
        foreach (var method in results.Select(r => r.Method).Distinct())
        {
            var rows = results.Where(r => r.Method == method).ToList();
            double ratio = rows.Average(r => r.Seconds / ermTime[r.Seed]);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {method} | {ratio:F2}x | {MeanSpread(rows.Select(r => 100 * r.Accuracy))} | {MeanSpread(rows.Select(r => 100 * r.WorstGroup))} | {rows.Min(r => 100 * r.WorstGroup):F2} |"));
        }
        output.WriteLine("training time: the whole Fit, validation after every epoch included, over ERM's Fit on the same seed (DFR: ERM's Fit plus DFR's)");
    }

    private static string MeanSpread(IEnumerable<double> values)
    {
        var v = values.ToList();
        double mean = v.Average();
        if (v.Count < 2) return mean.ToString("F2", CultureInfo.InvariantCulture);
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
        return string.Create(CultureInfo.InvariantCulture, $"{mean:F2} ± {sd:F2}");
    }
}
