using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using TorchSharp;
using Xunit.Abstractions;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// DPE (an ensemble of prototype classifiers over a fitted model's frozen features): with class-mean prototypes and no
/// training it is a nearest-class-mean classifier computed by the test in double precision, scores included; the
/// diversity term is the hand computation; it raises the worst-group accuracy of an ERM model on a biased set; it is
/// deterministic for a seed; the result scores, evaluates, saves, loads and exports like every other model; bad input is
/// named, and a DPE model is refused by DPE and DFR.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class DpeTests(ITestOutputHelper output)
{
    /// <summary>
    /// ONNX Runtime's float32 scores against the test's double-precision nearest-class-mean scores, relative to the
    /// score. The features themselves differ by float32 rounding between TorchSharp (which the prototypes were built from)
    /// and ONNX Runtime's convolutions (about 1e-6 relative), and the centring, normalisation, distance and softmax each
    /// add a few float32 ulps; a wrong prototype, a missed centring or a wrong scale moves scores by 1e-2 and more.
    /// </summary>
    private const double ScoreRelativeTolerance = 2e-5;

    private readonly MLContext ml = new(0);

    private static ErmTrainer.Options SmallErm(int epochs = 3, int seed = 1, int width = 4) => new()
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = width, NumberOfEpochs = epochs, BatchSize = 32,
        LearningRate = 3e-3, Optimizer = OptimizerKind.Adam, Seed = seed, Device = TrainingDevice.Cpu,
    };

    [Fact]
    public void Class_mean_prototypes_without_training_are_a_nearest_class_mean_classifier()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm()).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(256, 0.8, 201)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(90, 0.7, 202)); // unequal classes: balancing drops rows
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(20, 203));
        var options = new DpeTrainer.Options
        {
            PrototypeInitialization = PrototypeInitialization.ClassMeans, LearningRate = 0, NumberOfMembers = 1,
            DiversityStrength = 0, NumberOfEpochs = 2, Seed = 4,
        };
        using var dpe = ml.MulticlassClassification.Trainers.Dpe(erm, options).Fit(heldOut);

        // The test's own classifier, in double: unit class means of the member's rows, scores softmax(-d), |s| = 1.
        var labels = heldOut.GetColumn<uint>("Label").Select(k => (int)k - 1).ToArray();
        var rows = DpeTrainer.MemberRows(labels, null, 4, 0);
        Assert.True(rows.Length < labels.Length && rows.Count(r => labels[r] == 0) == rows.Length / 2, "the subset should be class-balanced and smaller");
        var heldX = Features(erm.Network, heldOut).Select(Normalize).ToArray();
        var means = new double[2][];
        for (int c = 0; c < 2; c++)
        {
            var members = rows.Where(r => labels[r] == c).ToArray();
            means[c] = Unit(Enumerable.Range(0, heldX[0].Length).Select(j => members.Average(r => heldX[r][j])).ToArray());
        }
        var testX = Features(erm.Network, test).Select(Normalize).ToArray();
        var scored = dpe.Transform(test);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var predicted = scored.GetColumn<uint>("PredictedLabel").Select(k => (int)k - 1).ToArray();
        var torchScores = TorchScores(dpe.Network, test);
        double worstRelative = 0, worstTorch = 0, smallestMargin = double.MaxValue;
        for (int i = 0; i < testX.Length; i++)
        {
            var cos = means.Select(m => Dot(testX[i], m)).ToArray();
            var logits = cos.Select(v => -Math.Sqrt(Math.Max(2 - 2 * v, 1e-12))).ToArray();
            var max = logits.Max();
            var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
            var expected = exp.Select(e => e / exp.Sum()).ToArray();
            smallestMargin = Math.Min(smallestMargin, Math.Abs(cos[0] - cos[1]));
            Assert.Equal(cos[1] > cos[0] ? 1 : 0, predicted[i]);
            for (int c = 0; c < 2; c++)
            {
                worstRelative = Math.Max(worstRelative, Math.Abs(scores[i][c] - expected[c]) / expected[c]);
                worstTorch = Math.Max(worstTorch, Math.Abs(torchScores[i][c] - expected[c]) / expected[c]);
            }
        }
        output.WriteLine($"largest relative score difference: ONNX {worstRelative:E2}, torch {worstTorch:E2}; smallest cosine margin {smallestMargin:E2}");
        Assert.True(worstRelative <= ScoreRelativeTolerance, $"ONNX scores differ from the nearest-class-mean scores by {worstRelative:E2}");
        Assert.True(worstTorch <= ScoreRelativeTolerance, $"torch scores differ from the nearest-class-mean scores by {worstTorch:E2}");

        var head = dpe.Network.PrototypeHead!;
        Assert.Equal(1f, head.Scales.data<float>()[0]); // lr 0 keeps |s| = 1
        var report = dpe.History.Dpe!;
        Assert.Equal(DpeBalancing.Classes, report.Balancing);
        Assert.Equal(rows.Length, report.RowsPerMember);
        Assert.Equal(1, report.Members[0].SelectedEpoch); // nothing changes: the later epoch wins the tie
        Assert.Null(erm.History.Dpe);
        Assert.Null(erm.Network.PrototypeHead);
    }

    [Fact]
    public void The_diversity_term_is_the_mean_same_class_inner_product_over_M_plus_1_and_D_minus_1()
    {
        using var scope = torch.NewDisposeScope();
        double[,] p = { { 0.5, -1.0, 2.0 }, { 1.5, 0.25, -0.5 } }; // K = 2, D = 3
        double[,,] earlier =
        {
            { { 1.0, 2.0, -3.0 }, { 0.5, 0.5, 0.5 } },
            { { -2.0, 0.0, 1.0 }, { 1.0, -4.0, 2.0 } },
        }; // M = 2
        double expected = 0;
        for (int k = 0; k < 2; k++)
        {
            double sum = 0;
            for (int j = 0; j < 2; j++)
                for (int d = 0; d < 3; d++) sum += p[k, d] * earlier[j, k, d];
            expected += sum / (2 + 1);
        }
        expected = Math.Abs(expected / 2 / (3 - 1)); // class 0: (0.5 - 2 - 6) + (-1 + 0 + 2) = -6.5; class 1: (0.75 + 0.125 - 0.25) + (1.5 - 1 - 1) = 0.125
        var actual = DpeTrainer.Diversity(torch.tensor(p), torch.tensor(earlier)).item<double>();
        output.WriteLine($"diversity: test {expected:R}, library {actual:R}");
        // float64 sums of a dozen products of values near 1: the routes differ by summation order only (1e-16 relative);
        // 1e-13 absolute leaves room for any CPU and catches any wrong factor or pair.
        Assert.Equal(-6.5 + 0.625 - 0.5, -expected * 2 * 2 * 3, 1e-13); // the sum is negative: the absolute value matters
        Assert.Equal(expected, actual, 1e-13);

        // One earlier member: the same formula with M + 1 = 2.
        var one = DpeTrainer.Diversity(torch.tensor(p), torch.tensor(earlier).narrow(0, 0, 1)).item<double>();
        Assert.Equal(Math.Abs(((0.5 - 2 - 6) + (0.75 + 0.125 - 0.25)) / 2 / 2 / 2), one, 1e-13);
    }

    [Fact]
    public void Dpe_on_held_out_groups_raises_the_test_worst_group_accuracy_of_an_ERM_model_and_reports_what_it_chose()
    {
        // As DFR's test: the colour agrees with the orientation in 99 % of the training rows; ERM learns the colour.
        // 200 epochs, not the default 20: each member's subset (4 groups x 50 = 200 rows) is one batch, so 20 epochs are
        // 20 SGD steps at lr 1e-3, too few on these 32 features (seen with the defaults: test worst group 0.000, as ERM;
        // with 200 epochs 0.500).
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(800, 0.99, 121));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(50, 122));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(100, 123));
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm(epochs: 4, seed: 7, width: 8)).Fit(train);
        var options = new DpeTrainer.Options { GroupColumnName = "Group", Seed = 7, NumberOfEpochs = 200 };
        using var dpe = ml.MulticlassClassification.Trainers.Dpe(erm, options).Fit(heldOut);

        var ermGroups = ml.MulticlassClassification.EvaluateGroups(erm.Transform(test));
        var dpeGroups = ml.MulticlassClassification.EvaluateGroups(dpe.Transform(test));
        var report = dpe.History.Dpe!;
        output.WriteLine(report.ToString());
        output.WriteLine($"test worst-group accuracy: ERM {ermGroups.WorstGroupAccuracy:F3} (average {ermGroups.AverageAccuracy:F3}), " +
            $"DPE {dpeGroups.WorstGroupAccuracy:F3} (average {dpeGroups.AverageAccuracy:F3})");
        Assert.Equal(15, report.Members.Count);
        Assert.Equal(DpeBalancing.Groups, report.Balancing);
        Assert.Equal(200, report.RowsPerMember); // four groups of 50
        Assert.True(ermGroups.WorstGroupAccuracy < 0.2, $"ERM's worst group should be clearly low on this set; got {ermGroups.WorstGroupAccuracy:F3}");
        Assert.True(dpeGroups.WorstGroupAccuracy > ermGroups.WorstGroupAccuracy + 0.3,
            $"DPE {dpeGroups.WorstGroupAccuracy:F3} should beat ERM {ermGroups.WorstGroupAccuracy:F3} clearly");

        // The report's ensemble score is the saved model's own held-out worst-group accuracy.
        // Ratios of the same row counts: equal up to the division's rounding (1e-16); 1e-12 absolute on a value in [0, 1].
        Assert.Equal(ml.MulticlassClassification.EvaluateGroups(dpe.Transform(heldOut)).WorstGroupAccuracy, report.EnsembleWorstAccuracy, 1e-12);

        // Each member's reported score is its stored prototypes' held-out worst-group accuracy, recomputed in double: the
        // stored prototypes are the chosen epoch's.
        var labels = heldOut.GetColumn<uint>("Label").Select(k => (int)k - 1).ToArray();
        var groups = GroupColumnReader.Read(heldOut, "Group").Indices;
        var x = Features(erm.Network, heldOut).Select(Normalize).ToArray();
        var directions = dpe.Network.PrototypeHead!.Directions.data<float>().ToArray();
        int d = x[0].Length;
        for (int m = 0; m < 15; m++)
        {
            var correct = new int[4];
            var count = new int[4];
            for (int i = 0; i < x.Length; i++)
            {
                var cos = Enumerable.Range(0, 2).Select(c => Enumerable.Range(0, d).Sum(j => x[i][j] * directions[(m * 2 + c) * d + j])).ToArray();
                count[groups[i]]++;
                if ((cos[1] > cos[0] ? 1 : 0) == labels[i]) correct[groups[i]]++;
            }
            double worst = Enumerable.Range(0, 4).Min(g => (double)correct[g] / count[g]);
            Assert.Equal(worst, report.Members[m].HeldOutWorstAccuracy, 1e-12); // ratios of counts, as above
        }
    }

    [Fact]
    public void The_same_seed_gives_the_same_model_and_another_seed_another()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm()).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(256, 0.9, 211)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(80, 0.7, 212));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(10, 213));
        float[][] Scores(int seed)
        {
            using var dpe = ml.MulticlassClassification.Trainers.Dpe(erm, new DpeTrainer.Options { NumberOfMembers = 3, NumberOfEpochs = 4, BatchSize = 16, Seed = seed }).Fit(heldOut);
            return dpe.Transform(test).GetColumn<float[]>("Score").ToArray();
        }
        var first = Scores(1);
        var again = Scores(1);
        var other = Scores(2);
        Assert.Equal(first, again); // bit for bit
        double largest = first.Zip(other).Max(pair => Math.Abs(pair.First[0] - pair.Second[0]));
        output.WriteLine($"largest score difference between seeds 1 and 2: {largest:E2}");
        Assert.True(largest > 1e-3, $"another seed should give other subsets, shuffles and prototypes; scores differ by {largest:E2}");
    }

    [Fact]
    public void The_result_scores_evaluates_saves_loads_and_exports_like_any_model()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm()).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(256, 0.9, 221)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(15, 222));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(15, 223));
        using var dpe = ml.MulticlassClassification.Trainers.Dpe(erm, new DpeTrainer.Options { GroupColumnName = "Group", NumberOfMembers = 4, NumberOfEpochs = 5 }).Fit(heldOut);

        var scored = dpe.Transform(test);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        var torchScores = TorchScores(dpe.Network, test);
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(torchScores[i][c] - scores[i][c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}: ONNX {scores[i][c]}, torch {torchScores[i][c]}");
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var groups = ml.MulticlassClassification.EvaluateGroups(scored);
        Assert.Equal(4, groups.ByGroup.Count);
        Assert.Equal(metrics.MicroAccuracy, groups.AverageAccuracy, Tolerance.CountRatio);

        using var folder = new TempFolder();
        var path = folder.Combine("dpe.zip");
        ml.Model.Save(dpe, heldOut.Schema, path);
        var fresh = new MLContext(seed: 77);
        var loaded = fresh.Model.Load(path, out _);
        var after = loaded.Transform(BiasedShapes.ToDataView(fresh, BiasedShapes.Groups(15, 223)));
        Assert.Equal(scores, after.GetColumn<float[]>("Score").ToArray());
        Assert.Equal(scored.GetColumn<uint>("PredictedLabel"), after.GetColumn<uint>("PredictedLabel"));
        Assert.Equal(groups.WorstGroupAccuracy, fresh.MulticlassClassification.EvaluateGroups(after).WorstGroupAccuracy);
        var engine = fresh.Model.CreatePredictionEngine<BiasedShapes.Row, Prediction>(loaded);
        var row = BiasedShapes.Groups(15, 223)[0];
        var prediction = engine.Predict(row);
        Assert.Equal(scores[0], prediction.Score);
        Assert.Equal(scored.GetColumn<uint>("PredictedLabel").First(), prediction.PredictedLabel);

        // The ONNX file alone rebuilds the network: the same prototypes, a zero linear layer (not in the file), no fc initializer.
        using var onnx = new MemoryStream();
        dpe.ExportOnnx(onnx, new OnnxExportOptions { IncludeLogits = true });
        var model = global::Onnx.ModelProto.Parser.ParseFrom(onnx.ToArray());
        Assert.DoesNotContain(model.Graph.Initializer, i => i.Name.StartsWith("fc.", StringComparison.Ordinal));
        Assert.Contains(model.MetadataProps, e => e.Key == "flatdebias.prototype_members" && e.Value == "4");
        onnx.Position = 0;
        using var rebuilt = OnnxImport.LoadNetwork(onnx);
        Assert.NotNull(rebuilt.PrototypeHead);
        Assert.True(rebuilt.PrototypeHead!.Directions.Identical(dpe.Network.PrototypeHead!.Directions));
        Assert.True(rebuilt.PrototypeHead.Scales.Identical(dpe.Network.PrototypeHead.Scales));
        Assert.Equal(0, rebuilt.Head.weight.abs().sum().item<float>());
        Assert.Equal(TorchScores(dpe.Network, test), TorchScores(rebuilt, test));
        var directions = dpe.Network.PrototypeHead.Directions;
        Assert.True(directions.norm(1).sub(1).abs().max().item<float>() < 1e-6, "the stored prototypes should be unit vectors");

        // The estimator's schema before Fit is the model's after it.
        var shape = ml.MulticlassClassification.Trainers.Dpe(erm).GetOutputSchema(SchemaShapes.Of(heldOut.Schema));
        Assert.True(shape.Single(c => c.Name == "PredictedLabel").IsKey);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 2), dpe.GetOutputSchema(heldOut.Schema)["Score"].Type);
    }

    [Fact]
    public void Bad_input_is_named()
    {
        using var erm = ml.MulticlassClassification.Trainers.Erm(SmallErm(epochs: 1)).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.5, 231)));
        var heldOut = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(6, 232));
        DpeTrainer Dpe(DpeTrainer.Options options) => ml.MulticlassClassification.Trainers.Dpe(erm, options);
        void Fails<TException>(Func<object> act, params string[] named) where TException : Exception
        {
            var e = Assert.ThrowsAny<TException>(act);
            foreach (var text in named) Assert.Contains(text, e.Message);
        }

        Fails<ArgumentNullException>(() => ml.MulticlassClassification.Trainers.Dpe(null!, new DpeTrainer.Options()), "fittedModel");
        Fails<ArgumentNullException>(() => ml.MulticlassClassification.Trainers.Dpe(erm, (DpeTrainer.Options)null!), "options");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { NumberOfMembers = 0 }).Fit(heldOut), "NumberOfMembers must be >= 1");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { NumberOfEpochs = 0 }).Fit(heldOut), "NumberOfEpochs must be >= 1");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { BatchSize = 0 }).Fit(heldOut), "BatchSize must be >= 1");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { LearningRate = -1e-3 }).Fit(heldOut), "LearningRate must be >= 0");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { LearningRate = double.NaN }).Fit(heldOut), "LearningRate");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { Momentum = 1 }).Fit(heldOut), "Momentum must be in [0, 1)");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { EntropicScale = 0 }).Fit(heldOut), "EntropicScale must be > 0");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { PrototypeWeightDecay = -1 }).Fit(heldOut), "PrototypeWeightDecay must be >= 0");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { DiversityStrength = double.PositiveInfinity }).Fit(heldOut), "DiversityStrength");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { PrototypeInitialization = (PrototypeInitialization)7 }).Fit(heldOut), "PrototypeInitialization");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { EvaluationBatchSize = 0 }).Fit(heldOut), "EvaluationBatchSize");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { GroupColumnName = "Place" }).Fit(heldOut), "Could not find group column 'Place'");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { GroupColumnName = "Place" }).GetOutputSchema(SchemaShapes.Of(heldOut.Schema)), "Could not find group column 'Place'");
        Fails<ArgumentOutOfRangeException>(() => Dpe(new DpeTrainer.Options { LabelColumnName = "Target" }).Fit(heldOut), "Could not find label column 'Target'");
        Fails<InvalidOperationException>(() => Dpe(new DpeTrainer.Options()).Fit(ml.Data.FilterRowsByColumn(heldOut, "Weight", 10, 20)), "held-out data view has no rows");
        var oneClass = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(6, 233).Where(r => r.Label == "vertical"));
        Fails<InvalidOperationException>(() => Dpe(new DpeTrainer.Options()).Fit(oneClass), "Class 'horizontal'", "no held-out rows");

        // A DPE model's last layer is not linear: DPE and DFR refuse it and say which model to give.
        using var dpe = Dpe(new DpeTrainer.Options { NumberOfMembers = 1, NumberOfEpochs = 1 }).Fit(heldOut);
        var again = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Dpe(dpe).Fit(heldOut));
        Assert.Equal("fittedModel", again.ParamName);
        Assert.Contains("DPE's prototype ensemble", again.Message);
        Assert.Contains("the model DPE started from", again.Message);
        var dfr = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Dfr(dpe).Fit(heldOut));
        Assert.Equal("fittedModel", dfr.ParamName);
        Assert.Contains("DFR re-fits the last linear layer", dfr.Message);
    }

    private static double[] Normalize(float[] x)
    {
        double mean = x.Average(v => (double)v);
        return Unit(x.Select(v => v - mean).ToArray());
    }

    private static double[] Unit(double[] x)
    {
        double length = Math.Max(Math.Sqrt(x.Sum(v => v * v)), 1e-12);
        return x.Select(v => v / length).ToArray();
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b).Sum(p => p.First * p.Second);

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

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }
}
