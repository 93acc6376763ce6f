using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>
/// Seconds per fit of every last-layer method at its library defaults on Waterbirds-sized features (4,795 training and
/// 1,199 validation rows, as Waterbirds' splits; 512 floats as ResNet-18's features and 2,048 as ResNet-50's), as ratios
/// to training the ERM head (a linear layer, 30 epochs of batch 128, Adam: the frozen sets' schedule) in the same run.
/// The features are synthetic (a label direction, a spurious direction agreeing with the label on 95 % of the training
/// rows, Gaussian noise): the cost depends on the sizes, not on the values. DFR, DPE fit on the validation rows; AFR and
/// FlatDebias's last layer on 20 % of the training rows, with the validation rows choosing (AFR's protocol).
/// </summary>
public static class LastLayerBenchmark
{
    private sealed class Row
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";

        public string Group { get; set; } = "";
    }

    /// <summary>Runs the suite and prints one table per feature size.</summary>
    internal static void Run(TextWriter output, bool quick)
    {
        output.WriteLine("## Last-layer methods on Waterbirds-sized features: seconds per fit at the library's defaults, relative to the ERM head");
        var ml = new MLContext(0);
        int train = quick ? 400 : 4795, validation = quick ? 100 : 1199;
        foreach (int d in quick ? new[] { 32 } : new[] { 512, 2048 })
        {
            var random = new Random(d);
            var schema = SchemaDefinition.Create(typeof(Row));
            schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
            IDataView Make(int n, double agree)
            {
                var rows = new List<Row>(n);
                for (int i = 0; i < n; i++)
                {
                    int y = i % 2;
                    int a = random.NextDouble() < agree ? y : 1 - y;
                    var x = new float[d];
                    for (int j = 0; j < d; j++) x[j] = (float)(Gaussian(random) + (j == 0 ? 0.6 * (2 * y - 1) : 0) + (j == 1 ? 2.0 * (2 * a - 1) : 0));
                    rows.Add(new Row { Features = x, Label = y == 0 ? "landbird" : "waterbird", Group = $"{y}/{a}" });
                }
                var data = ml.Data.LoadFromEnumerable(rows, schema);
                return ml.Data.Cache(ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data));
            }
            var trainSet = Make(train, 0.95);
            var validationSet = Make(validation, 0.5);
            var ermOptions = new ErmTrainer.Options
            {
                Network = NetworkKind.Linear, NumberOfEpochs = quick ? 2 : 30, BatchSize = 128, LearningRate = 1e-3,
                Optimizer = OptimizerKind.Adam, WeightDecay = 1e-4, Seed = 0, Device = TrainingDevice.Cpu,
            };
            var trainers = ml.MulticlassClassification.Trainers;
            var (erm, ermSeconds) = Timed(() => trainers.Erm(ermOptions).Fit(trainSet));
            var parts = ml.Data.TrainTestSplit(trainSet, testFraction: 0.2, seed: 0);
            using var erm80 = trainers.Erm(ermOptions).Fit(parts.TrainSet);
            var reweighting = ml.Data.Cache(parts.TestSet);
            var fits = new List<(string Method, double Seconds, string Rows)>
            {
                ("DFR (groups; 7 C x 1 + 20 refits, ML.NET L-BFGS)", Timed(() => trainers.Dfr(erm, quick ? new DfrTrainer.Options { NumberOfRetrains = 2 } : new DfrTrainer.Options()).Fit(validationSet)).Seconds, $"{validation} validation"),
                ("DFR (classes as groups)", Timed(() => trainers.Dfr(erm, new DfrTrainer.Options { GroupColumnName = "Label", NumberOfRetrains = quick ? 2 : 20 }).Fit(validationSet)).Seconds, $"{validation} validation"),
                ("AFR (132 grid points x 500 full-batch steps)", Timed(() => trainers.Afr(erm80, new AfrTrainer.Options { ValidationSet = validationSet, NumberOfEpochs = quick ? 20 : 500 }).Fit(reweighting)).Seconds, "20 % of training"),
                ("DPE (15 members x 20 epochs)", Timed(() => trainers.Dpe(erm, new DpeTrainer.Options { NumberOfMembers = quick ? 2 : 15 }).Fit(validationSet)).Seconds, $"{validation} validation"),
                ("FlatDebias last layer (18 grid points x 500 steps)", Timed(() => trainers.FlatDebiasLastLayer(erm80, new FlatDebiasLastLayerTrainer.Options { ValidationSet = validationSet, NumberOfEpochs = quick ? 20 : 500 }).Fit(reweighting)).Seconds, "20 % of training"),
            };
            erm.Dispose();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"### {d} features: {train} training rows, {validation} validation rows"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"fit",-52} {"rows",-18} {"seconds",8} {"x ERM head",10}"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{"ERM head (linear, 30 epochs, batch 128, Adam)",-52} {$"{train} training",-18} {ermSeconds,8:F2} {1.0,10:F2}"));
            foreach (var (method, seconds, rows) in fits)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method,-52} {rows,-18} {seconds,8:F2} {seconds / ermSeconds,10:F2}"));
        }
    }

    private static (T Result, double Seconds) Timed<T>(Func<T> fit)
    {
        var clock = Stopwatch.StartNew();
        var result = fit();
        return (result, clock.Elapsed.TotalSeconds);
    }

    private static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
