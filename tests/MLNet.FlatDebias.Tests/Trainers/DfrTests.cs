using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using Xunit.Abstractions;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// DFR (last-layer re-training on group-balanced held-out rows): the head equals ML.NET's logistic regression fitted by
/// the test on the same rows (one fit, and the mean of several), C maps to ML.NET's L1 strength as 1 / C, it raises the
/// worst-group accuracy of an ERM model on a biased set, and the result scores, evaluates, saves and loads like every
/// other model; bad input is named.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class DfrTests(ITestOutputHelper output)
{
    /// <summary>
    /// The library's head against the test's direct fit of the same rows, relative to the largest weight (at least 1):
    /// both routes standardise with the same double arithmetic in the same row order, so ML.NET's single-threaded L-BFGS
    /// gets the same float rows and returns the same coefficients; what is left is the rounding of the folded head to
    /// float32 (seen: 2e-7 on weights up to 10, about one ulp). A wrong row, a wrong C or a missed standardisation moves
    /// coefficients by 1e-2 and more.
    /// </summary>
    private const double DirectFitTolerance = 1e-5;

    private readonly MLContext ml = new(0);

    private static ErmTrainer.Options SmallErm(int epochs = 3, int seed = 1, int width = 4) => new()
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = width, NumberOfEpochs = epochs, BatchSize = 32,
        LearningRate = 3e-3, Optimizer = OptimizerKind.Adam, Seed = seed, Device = TrainingDevice.Cpu,
    };

    [Fact]
    public void One_fit_equals_MLNETs_logistic_regression_on_the_same_balanced_standardised_rows()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm()).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(256, 0.8, 101)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(120, 0.7, 102)); // unequal groups: balancing drops rows
        var options = new DfrTrainer.Options { InverseRegularizationValues = [0.3], NumberOfRetrains = 1, Seed = 5 };
        using var dfr = ml.MulticlassClassification.Trainers.Dfr(erm, options).Fit(heldOut);

        var expected = DirectHead(erm.Network, heldOut, c: 0.3, seed: 5, retrains: 1);
        AssertHead(expected, dfr.Network);

        var report = dfr.History.Dfr!;
        Assert.Empty(report.Tuning); // one C: nothing to tune
        Assert.Equal(0.3, report.InverseRegularization);
        Assert.Equal(1 / 0.3f, report.L1Regularization);
        Assert.Equal(1, report.NumberOfRetrains);
        Assert.Equal(4 * report.GroupRows.Min(), report.RowsPerRetrain);
        Assert.True(report.RowsPerRetrain < 120, "the held-out groups should be unequal so that balancing drops rows");

        // The backbone is the ERM model's, bit for bit; only the head differs; the ERM model is unchanged.
        var before = erm.Network.state_dict();
        foreach (var (name, tensor) in dfr.Network.state_dict().Where(kv => !kv.Key.StartsWith("fc.", StringComparison.Ordinal)))
            Assert.True(tensor.Identical(before[name]), name);
        Assert.False(dfr.Network.Head.weight.allclose(erm.Network.Head.weight));
        Assert.Equal(erm.History.Epochs, dfr.History.Epochs);
        Assert.Null(erm.History.Dfr);
    }

    [Fact]
    public void Several_retrains_average_the_single_fits()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm()).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(256, 0.8, 111)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(120, 0.7, 112));
        var options = new DfrTrainer.Options { InverseRegularizationValues = [0.1], NumberOfRetrains = 3, Seed = 9 };
        using var dfr = ml.MulticlassClassification.Trainers.Dfr(erm, options).Fit(heldOut);

        var groups = GroupColumnReader.Read(heldOut, "Group").Indices;
        Assert.NotEqual(DfrSampling.RetrainRows(groups, 9, 0), DfrSampling.RetrainRows(groups, 9, 1)); // each fit has its own rows
        Assert.Equal(DfrSampling.RetrainRows(groups, 9, 2), DfrSampling.RetrainRows(groups, 9, 2)); // and they repeat
        AssertHead(DirectHead(erm.Network, heldOut, c: 0.1, seed: 9, retrains: 3), dfr.Network);
        Assert.Equal(3, dfr.History.Dfr!.NumberOfRetrains);
    }

    [Fact]
    public void C_is_one_over_MLNETs_L1_strength_because_MLNET_weighs_it_against_the_summed_loss()
    {
        // scikit-learn minimises ||w||_1 + C sum(loss). If ML.NET's L1 term were weighed against the mean loss, a data set
        // with every row twice would give the same fit at the same L1. It is weighed against the sum: doubling the rows
        // and the L1 strength gives the same fit, and doubling the rows alone does not.
        var random = new Random(3);
        var x = new List<float[]>();
        var y = new List<int>();
        for (int i = 0; i < 150; i++)
        {
            var row = Enumerable.Range(0, 5).Select(_ => (float)(2 * random.NextDouble() - 1)).ToArray();
            x.Add(row);
            y.Add(2 * row[0] - row[1] + 0.8 * (random.NextDouble() - 0.5) > 0 ? 1 : 0);
        }
        var twice = x.Concat(x).ToList();
        var twiceY = y.Concat(y).ToList();
        double c = 0.1;
        var once = DfrLogisticRegression.Fit(ml, x, y, 2, c);
        var doubledRowsAndL1 = DfrLogisticRegression.Fit(ml, twice, twiceY, 2, c / 2); // L1 = 2 / C
        var doubledRows = DfrLogisticRegression.Fit(ml, twice, twiceY, 2, c);

        double Gap(LinearHead a, LinearHead b) => Enumerable.Range(0, 5).Max(j => Math.Abs((a.Weights[1, j] - a.Weights[0, j]) - (b.Weights[1, j] - b.Weights[0, j])));
        output.WriteLine($"w1 - w0: once [{string.Join(", ", Enumerable.Range(0, 5).Select(j => $"{once.Weights[1, j] - once.Weights[0, j]:F4}"))}]; " +
            $"gap to doubled rows and L1 {Gap(once, doubledRowsAndL1):E2}, to doubled rows {Gap(once, doubledRows):E2}");
        Assert.True(Gap(once, doubledRowsAndL1) < 1e-3, $"doubled rows and L1: {Gap(once, doubledRowsAndL1):E2}");
        Assert.True(Gap(once, doubledRows) > 0.05, $"doubled rows alone: {Gap(once, doubledRows):E2}");
        Assert.Equal(10f, DfrLogisticRegression.Options(0.1).L1Regularization);
    }

    [Fact]
    public void Dfr_on_held_out_groups_raises_the_test_worst_group_accuracy_of_an_ERM_model()
    {
        // The bar's colour agrees with its orientation in 99 % of the training rows: ERM learns the colour, and gets the
        // test rows whose colour disagrees wrong. The held-out and test groups are equally large.
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(800, 0.99, 121));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(50, 122));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(100, 123));
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm(epochs: 4, seed: 7, width: 8)).Fit(train);
        using var dfr = ml.MulticlassClassification.Trainers.Dfr(erm, new DfrTrainer.Options { Seed = 7 }).Fit(heldOut);

        var ermGroups = ml.MulticlassClassification.EvaluateGroups(erm.Transform(test));
        var dfrGroups = ml.MulticlassClassification.EvaluateGroups(dfr.Transform(test));
        output.WriteLine(dfr.History.Dfr!.ToString());
        output.WriteLine($"test worst-group accuracy: ERM {ermGroups.WorstGroupAccuracy:F3} (average {ermGroups.AverageAccuracy:F3}), " +
            $"DFR {dfrGroups.WorstGroupAccuracy:F3} (average {dfrGroups.AverageAccuracy:F3})");
        Assert.Equal(7, dfr.History.Dfr!.Tuning.Count);
        Assert.Contains(dfr.History.Dfr.InverseRegularization, TrainerDefaultsGrid);
        Assert.True(ermGroups.WorstGroupAccuracy < 0.6, $"ERM's worst group should be clearly low on this set; got {ermGroups.WorstGroupAccuracy:F3}");
        Assert.True(dfrGroups.WorstGroupAccuracy > ermGroups.WorstGroupAccuracy + 0.3,
            $"DFR {dfrGroups.WorstGroupAccuracy:F3} should beat ERM {ermGroups.WorstGroupAccuracy:F3} clearly");
    }

    private static readonly double[] TrainerDefaultsGrid = [1, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01];

    [Fact]
    public void The_result_scores_evaluates_saves_and_loads_like_any_model()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm()).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(256, 0.9, 131)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(15, 132));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(15, 133));
        using var dfr = ml.MulticlassClassification.Trainers.Dfr(erm, numberOfRetrains: 2).Fit(heldOut);

        var scored = dfr.Transform(test);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var torchScores = TorchScores(dfr.Network, test);
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(torchScores[i][c] - scores[i][c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}: ONNX {scores[i][c]}, torch {torchScores[i][c]}");
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var groups = ml.MulticlassClassification.EvaluateGroups(scored);
        Assert.Equal(4, groups.ByGroup.Count);
        Assert.Equal(metrics.MicroAccuracy, groups.AverageAccuracy, Tolerance.CountRatio);

        using var folder = new TempFolder();
        var path = folder.Combine("dfr.zip");
        ml.Model.Save(dfr, heldOut.Schema, path);
        var fresh = new MLContext(seed: 77);
        var loaded = fresh.Model.Load(path, out _);
        var after = loaded.Transform(BiasedShapes.ToDataView(fresh, BiasedShapes.Groups(15, 133)));
        var scoresAfter = after.GetColumn<float[]>("Score").ToArray();
        Assert.Equal(scored.GetColumn<uint>("PredictedLabel"), after.GetColumn<uint>("PredictedLabel"));
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(scores[i][c] - scoresAfter[i][c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}");
        Assert.Equal(metrics.MicroAccuracy, fresh.MulticlassClassification.Evaluate(after).MicroAccuracy);
        Assert.Equal(groups.WorstGroupAccuracy, fresh.MulticlassClassification.EvaluateGroups(after).WorstGroupAccuracy);
        var text = fresh.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel").Fit(after).Transform(after).GetColumn<string>("PredictedText");
        Assert.All(text, t => Assert.Contains(t, BiasedShapes.Labels));

        // The estimator's schema before Fit is the model's after it.
        var shape = ml.MulticlassClassification.Trainers.Dfr(erm, new DfrTrainer.Options()).GetOutputSchema(SchemaShapes.Of(heldOut.Schema));
        Assert.True(shape.Single(c => c.Name == "PredictedLabel").IsKey);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 2), dfr.GetOutputSchema(heldOut.Schema)["Score"].Type);
    }

    [Fact]
    public void Bad_input_is_named()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm(epochs: 1)).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.5, 141)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(6, 142));
        DfrTrainer Dfr(DfrTrainer.Options options) => ml.MulticlassClassification.Trainers.Dfr(erm, options);
        void Fails<TException>(Func<object> act, params string[] named) where TException : Exception
        {
            var e = Assert.ThrowsAny<TException>(act);
            foreach (var text in named) Assert.Contains(text, e.Message);
        }

        Fails<ArgumentNullException>(() => ml.MulticlassClassification.Trainers.Dfr(null!, new DfrTrainer.Options()), "fittedModel");
        Fails<ArgumentNullException>(() => ml.MulticlassClassification.Trainers.Dfr(erm, (DfrTrainer.Options)null!), "options");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { GroupColumnName = "Place" }).Fit(heldOut), "Could not find group column 'Place'");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { GroupColumnName = "Place" }).GetOutputSchema(SchemaShapes.Of(heldOut.Schema)), "Could not find group column 'Place'");
        Fails<ArgumentException>(() => Dfr(new DfrTrainer.Options { GroupColumnName = "" }).Fit(heldOut), "GroupColumnName");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { LabelColumnName = "Target" }).Fit(heldOut), "Could not find label column 'Target'");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { NumberOfRetrains = 0 }).Fit(heldOut), "NumberOfRetrains must be >= 1");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { TuningFraction = 1 }).Fit(heldOut), "TuningFraction must be in (0, 1)");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { TuningFraction = 0 }).Fit(heldOut), "TuningFraction");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { InverseRegularizationValues = [] }).Fit(heldOut), "InverseRegularizationValues");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { InverseRegularizationValues = [1, -0.1] }).Fit(heldOut), "InverseRegularizationValues", "-0.1");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { InverseRegularizationValues = [double.NaN] }).Fit(heldOut), "InverseRegularizationValues");
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options { EvaluationBatchSize = 0 }).Fit(heldOut), "EvaluationBatchSize");

        // A feature column of another size than the model reads.
        var small = ml.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(i => new SmallRow { Label = i % 2 == 0 ? "horizontal" : "vertical", Group = $"g{i % 4}" }));
        var smallKeyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(small).Transform(small);
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options()).Fit(smallKeyed),
            "Schema mismatch for feature column 'Features'", "Vector<Single, 432>", "got Vector<Single, 3, 10, 10>");

        // A label with other classes than the model's.
        var threeClasses = BiasedShapes.Groups(4, 143).Select((r, i) => new BiasedShapes.Row { Features = r.Features, Group = r.Group, Label = i % 3 == 0 ? "diagonal" : r.Label }).ToList();
        var threeView = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(threeClasses)).Transform(ml.Data.LoadFromEnumerable(threeClasses));
        Fails<ArgumentOutOfRangeException>(() => Dfr(new DfrTrainer.Options()).Fit(threeView), "Schema mismatch for label column 'Label'", "2 classes");

        // No rows; one group; a class without rows.
        Fails<InvalidOperationException>(() => Dfr(new DfrTrainer.Options()).Fit(ml.Data.FilterRowsByColumn(heldOut, "Weight", 10, 20)), "held-out data view has no rows");
        var oneGroup = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(6, 144).Select(r => new BiasedShapes.Row { Features = r.Features, Label = r.Label, Group = "all" }));
        Fails<InvalidOperationException>(() => Dfr(new DfrTrainer.Options()).Fit(oneGroup), "only one group ('all')");
        var oneClass = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(6, 145).Where(r => r.Label == "vertical"));
        Fails<InvalidOperationException>(() => Dfr(new DfrTrainer.Options()).Fit(oneClass), "Class 'horizontal'", "no held-out rows");

        // A group too small to have rows in both tuning parts (one row); fine without tuning (one C).
        var rows = BiasedShapes.Groups(6, 146).Where(r => r.Group != "vertical/red").Append(BiasedShapes.Groups(1, 147).First(r => r.Group == "vertical/red")).ToList();
        var tiny = BiasedShapes.ToDataView(ml, rows);
        Fails<InvalidOperationException>(() => Dfr(new DfrTrainer.Options()).Fit(tiny), "Group 'vertical/red'", "no rows in the tuning", "TuningFraction");
        using var untuned = Dfr(new DfrTrainer.Options { InverseRegularizationValues = [1], NumberOfRetrains = 2 }).Fit(tiny);
        Assert.Equal(4, untuned.History.Dfr!.RowsPerRetrain); // four groups of one row each
    }

    /// <summary>The test's own DFR head: features by <c>network.Features</c>, standardised over all held-out rows (mean and
    /// population deviation in double), ML.NET's <c>LbfgsMaximumEntropy</c> fitted on each retrain's balanced rows
    /// (taken from <see cref="DfrSampling.RetrainRows"/>), averaged and folded into raw-feature weights.</summary>
    private (double[,] Weights, double[] Biases) DirectHead(ClassifierNetwork network, IDataView heldOut, double c, int seed, int retrains)
    {
        var x = Features(network, heldOut);
        var labels = heldOut.GetColumn<uint>("Label").Select(k => (int)k - 1).ToArray();
        var groups = GroupColumnReader.Read(heldOut, "Group").Indices;
        int n = x.Length, d = x[0].Length, k = 2;
        var mean = new double[d];
        var sd = new double[d];
        for (int j = 0; j < d; j++)
        {
            mean[j] = x.Average(r => (double)r[j]);
            sd[j] = Math.Sqrt(x.Average(r => (r[j] - mean[j]) * (r[j] - mean[j])));
            if (sd[j] == 0) sd[j] = 1;
        }
        var w = new double[k, d];
        var b = new double[k];
        for (int r = 0; r < retrains; r++)
        {
            var rows = DfrSampling.RetrainRows(groups, seed, r);
            var data = ml.Data.LoadFromEnumerable(rows.Select(i => new FitRow
            {
                Label = (uint)labels[i], // LoadFromEnumerable takes a key member as the zero-based index
                Features = Enumerable.Range(0, d).Select(j => (float)((x[i][j] - mean[j]) / sd[j])).ToArray(),
            }), FitRow.Definition(d, k));
            var model = ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                L1Regularization = (float)(1 / c), L2Regularization = 0, NumberOfThreads = 1,
            }).Fit(data).Model;
            VBuffer<float>[] weights = [];
            model.GetWeights(ref weights, out _);
            var biases = model.GetBiases().ToArray();
            for (int cls = 0; cls < k; cls++)
            {
                b[cls] += biases[cls] / retrains;
                var dense = weights[cls].DenseValues().ToArray();
                for (int j = 0; j < d; j++) w[cls, j] += dense[j] / retrains;
            }
        }
        for (int cls = 0; cls < k; cls++)
            for (int j = 0; j < d; j++)
            {
                w[cls, j] /= sd[j];
                b[cls] -= w[cls, j] * mean[j];
            }
        Assert.Equal(n, labels.Length);
        return (w, b);
    }

    private void AssertHead((double[,] Weights, double[] Biases) expected, ClassifierNetwork network)
    {
        var weight = network.Head.weight.data<float>().ToArray();
        var bias = network.Head.bias!.data<float>().ToArray();
        int k = expected.Biases.Length, d = expected.Weights.GetLength(1);
        double worst = 0, largest = 0;
        for (int c = 0; c < k; c++)
        {
            worst = Math.Max(worst, Math.Abs(expected.Biases[c] - bias[c]));
            for (int j = 0; j < d; j++)
            {
                worst = Math.Max(worst, Math.Abs(expected.Weights[c, j] - weight[c * d + j]));
                largest = Math.Max(largest, Math.Abs(expected.Weights[c, j]));
            }
        }
        output.WriteLine($"largest head difference {worst:E2} (largest weight {largest:F3})");
        Assert.True(largest > 0.05, "the direct fit should not be all zeros, or the comparison shows nothing");
        Assert.True(worst <= DirectFitTolerance * Math.Max(1, largest), $"head differs from the direct fit by {worst:E2}");
    }

    private static float[][] Features(ClassifierNetwork network, IDataView data)
    {
        var rows = data.GetColumn<float[]>("Features").ToArray();
        var shape = network.InputShape;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        network.eval();
        var f = network.Features(torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, shape.Channels, shape.Height, shape.Width]));
        return Enumerable.Range(0, rows.Length).Select(i => f[i].data<float>().ToArray()).ToArray();
    }

    private static float[][] TorchScores(ClassifierNetwork network, IDataView data)
    {
        var rows = data.GetColumn<float[]>("Features").ToArray();
        var shape = network.InputShape;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var p = torch.nn.functional.softmax(network.forward(torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, shape.Channels, shape.Height, shape.Width])), 1);
        return Enumerable.Range(0, rows.Length).Select(i => p[i].data<float>().ToArray()).ToArray();
    }

    private sealed class FitRow
    {
        public uint Label { get; set; }

        public float[] Features { get; set; } = [];

        public static SchemaDefinition Definition(int features, int classes)
        {
            var definition = SchemaDefinition.Create(typeof(FitRow));
            definition[nameof(Label)].ColumnType = new KeyDataViewType(typeof(uint), classes);
            definition[nameof(Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, features);
            return definition;
        }
    }

    private sealed class SmallRow
    {
        [VectorType(3, 10, 10)]
        public float[] Features { get; set; } = new float[300];

        public string Label { get; set; } = "";

        public string Group { get; set; } = "";
    }
}
