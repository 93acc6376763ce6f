using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// JTT and PGD: both stages inside one Fit, each checked against an oracle computed another way (JTT's error set against
/// an ERM model's mistakes, PGD's sampling probabilities against a per-sample autograd loop), and each debiasing the
/// in-test biased set better than ERM with the same network, epochs and seed.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class TwoStageTrainerTests(ITestOutputHelper output)
{
    private static T Small<T>(T options) where T : NetworkTrainerOptions
    {
        options.Network = NetworkKind.SmallCnn;
        options.NetworkWidth = 4;
        options.BatchSize = 32;
        options.LearningRate = 3e-3;
        options.Optimizer = OptimizerKind.Adam;
        options.Seed = 3;
        options.Device = TrainingDevice.Cpu;
        options.Warnings = new SynchronousProgress<string>(_ => { }); // 12 px images are below SmallCnn's design size
        return options;
    }

    [Fact]
    public void Jtt_error_set_is_the_rows_an_erm_model_of_T_epochs_misclassifies()
    {
        var ml = new MLContext(0);
        var rows = BiasedShapes.Rows(256, 0.9, 11);
        var train = BiasedShapes.ToDataView(ml, rows);

        var erm = Small(new ErmTrainer.Options { NumberOfEpochs = 1 });
        using var ermModel = ml.MulticlassClassification.Trainers.Erm(erm).Fit(train);
        var predicted = ermModel.Transform(train).GetColumn<uint>("PredictedLabel").ToArray();
        var labels = train.GetColumn<uint>("Label").ToArray();
        var mistakes = Enumerable.Range(0, labels.Length).Where(i => predicted[i] != labels[i]).ToList();
        Assert.InRange(mistakes.Count, 1, labels.Length - 1); // a real split, not all or nothing

        var reports = new List<EpochReport>();
        var jtt = Small(new JttTrainer.Options { FirstStageEpochs = 1, NumberOfEpochs = 2, UpweightFactor = 20, Progress = new SynchronousProgress<EpochReport>(reports.Add) });
        using var model = ml.MulticlassClassification.Trainers.Jtt(jtt).Fit(train);
        var first = model.History.FirstStage!;
        Assert.Equal(mistakes, first.UpweightedRows);
        Assert.Equal(labels.Length, first.RowWeights.Count);
        Assert.All(Enumerable.Range(0, labels.Length), i => Assert.Equal(mistakes.Contains(i) ? 20.0 : 1.0, first.RowWeights[i]));

        // Stage 1's epochs in the history and the reports, tagged, then stage 2's.
        Assert.Equal([1], first.Epochs.Select(e => e.Stage!.Value));
        Assert.Equal(erm.NumberOfEpochs, first.Epochs.Count);
        Assert.Equal(ermModel.History.Epochs[0].TrainingLoss, first.Epochs[0].TrainingLoss); // stage 1 is that ERM run
        Assert.Equal([2, 2], model.History.Epochs.Select(e => e.Stage!.Value));
        Assert.Equal([1, 2, 2], reports.Select(r => r.Stage!.Value));
        Assert.StartsWith("stage 1, epoch 1/1  loss ", reports[0].ToString());
    }

    [Fact]
    public void Jtt_with_weight_one_in_the_loss_and_from_scratch_trains_like_erm_and_a_real_weight_does_not()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(128, 0.9, 12));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(8, 13));
        float[] Scores(ITransformer model) => [.. model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s)];

        using var erm = ml.MulticlassClassification.Trainers.Erm(Small(new ErmTrainer.Options { NumberOfEpochs = 2 })).Fit(train);
        JttTrainer.Options Jtt(double factor) => Small(new JttTrainer.Options
        {
            FirstStageEpochs = 1, NumberOfEpochs = 2, UpweightFactor = factor, Upweighting = JttUpweighting.LossWeight,
            SecondStageStart = SecondStageStart.FromScratch,
        });
        using var same = ml.MulticlassClassification.Trainers.Jtt(Jtt(1)).Fit(train);
        using var weighted = ml.MulticlassClassification.Trainers.Jtt(Jtt(50)).Fit(train);

        // The same initial weights, batch order and optimiser; the loss is sum(l * 1) / sum(1) instead of mean(l), which
        // may round differently in the last bit: 1e-4 absolute on probabilities after 2 epochs.
        var a = Scores(erm);
        var b = Scores(same);
        var c = Scores(weighted);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4, $"score {i}: ERM {a[i]}, JTT with weight 1 {b[i]}");
        Assert.True(a.Zip(c).Max(p => Math.Abs(p.First - p.Second)) > 1e-2, "upweighting the error set 50x changed nothing");
    }

    [Fact]
    public void Pgd_sampling_probabilities_are_the_normalised_per_sample_gradient_norms_of_an_autograd_loop()
    {
        manual_seed(5);
        using var network = new SmallCnn(3, new ImageShape(2, 8, 8), width: 3);
        const int rows = 20;
        var features = randn(rows, 2, 8, 8);
        long[] labels = [.. Enumerable.Range(0, rows).Select(i => (long)(i % 3))];
        using var training = new TensorDataset(features, 1f, new ImageShape(2, 8, 8), labels, 3, null, null, null);
        network.train(); // the pass must switch to evaluation mode itself and back

        foreach (double r in new[] { 0.7, 2.0 })
        {
            var probabilities = PgdTrainer.SamplingProbabilities(network, training, CPU, batchSize: 7, r);
            Assert.True(network.training);

            // Oracle: each row alone, backward of its cross-entropy, the entrywise r-norm of the head weight's gradient.
            network.eval();
            var norms = new double[rows];
            for (int i = 0; i < rows; i++)
            {
                using var scope = NewDisposeScope();
                network.zero_grad();
                var loss = nn.functional.cross_entropy(network.forward(features[i].unsqueeze(0)), tensor(new[] { labels[i] }));
                loss.backward();
                var g = network.Head.weight!.grad!.to(ScalarType.Float64).abs().data<double>().ToArray();
                norms[i] = Math.Pow(g.Sum(v => Math.Pow(v, r)), 1 / r);
            }
            network.train();
            double total = norms.Sum();
            // float32 forward and sums against a float64 loop: 1e-4 relative (a wrong r or a missing normalisation is off by far more).
            for (int i = 0; i < rows; i++)
                Assert.True(Math.Abs(probabilities[i] - norms[i] / total) <= 1e-4 * norms[i] / total, $"r {r}, row {i}: {probabilities[i]} vs {norms[i] / total}");
            Assert.Equal(1.0, probabilities.Sum(), 1e-9);
        }
    }

    [Fact]
    public void Pgd_history_holds_the_first_stage_and_its_probabilities()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(96, 0.9, 14));
        using var model = ml.MulticlassClassification.Trainers.Pgd(Small(new PgdTrainer.Options { FirstStageEpochs = 2, NumberOfEpochs = 1 })).Fit(train);
        var first = model.History.FirstStage!;
        Assert.Equal(2, first.Epochs.Count);
        Assert.Equal(96, first.RowWeights.Count);
        Assert.True(Math.Abs(first.RowWeights.Sum() - 1) <= 1e-9, "probabilities sum to 1");
        Assert.Equal(Enumerable.Range(0, 96).Where(i => first.RowWeights[i] > 1.0 / 96), first.UpweightedRows);
        Assert.Single(model.History.Epochs);
    }

    [Fact]
    public void Bad_two_stage_options_are_named()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.5, 1));
        void Check(Action fit, string option) => Assert.Equal(option, Assert.Throws<ArgumentOutOfRangeException>(fit).ParamName);
        Check(() => ml.MulticlassClassification.Trainers.Jtt(Small(new JttTrainer.Options { FirstStageEpochs = 0 })).Fit(train), "FirstStageEpochs");
        Check(() => ml.MulticlassClassification.Trainers.Jtt(Small(new JttTrainer.Options { UpweightFactor = 0.5 })).Fit(train), "UpweightFactor");
        Check(() => ml.MulticlassClassification.Trainers.Jtt(Small(new JttTrainer.Options { Upweighting = (JttUpweighting)9 })).Fit(train), "Upweighting");
        Check(() => ml.MulticlassClassification.Trainers.Pgd(Small(new PgdTrainer.Options { GceQ = 0 })).Fit(train), "GceQ");
        Check(() => ml.MulticlassClassification.Trainers.Pgd(Small(new PgdTrainer.Options { NormExponent = double.NaN })).Fit(train), "NormExponent");
        Check(() => ml.MulticlassClassification.Trainers.Pgd(Small(new PgdTrainer.Options { SecondStageStart = (SecondStageStart)5 })).Fit(train), "SecondStageStart");
    }

    [Fact]
    public void Jtt_and_Pgd_beat_Erm_on_test_worst_group_accuracy()
    {
        var ml = new MLContext(0);
        var train = BiasedDigits.ToDataView(ml, BiasedDigits.Train(2000, 0.97, 61));
        var validation = BiasedDigits.ToDataView(ml, BiasedDigits.Balanced(50, 62, fromTestSplit: false, offset: 50000));
        var test = BiasedDigits.ToDataView(ml, BiasedDigits.Balanced(250, 63, fromTestSplit: true));
        double Test(ITransformer model) => ml.MulticlassClassification.EvaluateGroups(model.Transform(test)).WorstGroupAccuracy;

        // The settings of DebiasingTests (the same network, epochs and seed for every method); each method's own knobs at
        // its trainer's defaults, except the first stage, a fifth of the run as in JTT's Waterbirds setting.
        static T Same<T>(T o) where T : NetworkTrainerOptions => DebiasingTests.Same(o);
        using var erm = ml.MulticlassClassification.Trainers.Erm(Same(new ErmTrainer.Options())).Fit(train, validation);
        using var jtt = ml.MulticlassClassification.Trainers.Jtt(Same(new JttTrainer.Options { FirstStageEpochs = 2 })).Fit(train, validation);
        using var pgd = ml.MulticlassClassification.Trainers.Pgd(Same(new PgdTrainer.Options { FirstStageEpochs = 2 })).Fit(train, validation);

        double ermWga = Test(erm), jttWga = Test(jtt), pgdWga = Test(pgd);
        output.WriteLine($"test worst-group accuracy: ERM {ermWga:F3}, JTT {jttWga:F3} (error set {jtt.History.FirstStage!.UpweightedRows.Count} rows), PGD {pgdWga:F3}");
        // Seen here: ERM 0.000, JTT 0.376 (error set 64 rows), PGD 0.112.
        Assert.True(jttWga > ermWga, $"JTT {jttWga:F3} should beat ERM {ermWga:F3}");
        Assert.True(pgdWga > ermWga, $"PGD {pgdWga:F3} should beat ERM {ermWga:F3}");
    }
}
