using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// LfF (Nam et al. 2020): the row weights against an oracle computed in double on hand-made batches, the two models'
/// updates, no use of training groups, debiasing on the in-test biased set, persistence, option checks, determinism,
/// flat memory and checkpoint resumption.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class LffTests(ITestOutputHelper output)
{
    /// <summary>
    /// The objective takes each row's cross-entropy from libtorch in float32 and keeps the averages in double; the
    /// oracle computes the cross-entropy in double from the same float32 logits. The float32 losses are a few ulps
    /// (about 1e-7 relative) off, and <c>W = b / (b + d)</c> passes relative errors through with a factor of at most 1,
    /// so the weights agree to about 1e-7; 1e-6 absolute leaves room for other CPUs' kernels, while a wrong EMA step,
    /// a missing class normalisation or a missed first-visit rule moves a weight by 1e-2 or more here.
    /// </summary>
    private const double WeightTolerance = 1e-6;

    private const int Classes = 3;
    private static readonly ImageShape TinyShape = new(1, 4, 4);

    [Fact]
    public void Lff_weights_equal_the_double_oracle_with_ema_first_visit_and_class_max_normalisation()
    {
        const double Alpha = 0.7;
        torch.manual_seed(17);
        using var data = TinyDataset(rows: 12, seed: 3, scale: 6); // large inputs spread the losses, and so the weights
        using var debiased = TinyNetwork();
        using var objective = new LffObjective(0.7, Alpha, new LffTrainer.Options { Optimizer = OptimizerKind.Sgd, LearningRate = 0.5, Momentum = 0, WeightDecay = 0 });
        objective.Initialize(new ObjectiveContext(data, debiased, CPU, 256, 0, TinyNetwork));
        var biased = objective.BiasedNetwork;
        using var optimizer = optim.SGD(debiased.parameters(), 0.5);
        using var generator = new Generator(1, CPU);

        var averageB = new double[data.Count];
        var averageD = new double[data.Count];
        var seen = new bool[data.Count];
        // Rows revisited (EMA), rows of every class, classes whose largest average sits on a row outside the batch.
        long[][] batches = [[0, 1, 2, 3, 4, 5], [3, 4, 6, 7, 8], [0, 6, 9, 10, 11], [1, 2, 3, 9], [5, 11, 0, 7]];
        double largestError = 0, spread = 0;
        foreach (var rows in batches)
        {
            using var scope = NewDisposeScope();
            var inputs = data.FeatureBatch(rows, CPU);
            var labels = data.LabelBatch(rows, CPU);
            double[] lossB, lossD;
            using (no_grad())
            {
                lossB = CrossEntropyInDouble(biased.forward(inputs), rows, data.Labels);
                lossD = CrossEntropyInDouble(debiased.forward(inputs), rows, data.Labels);
            }
            for (int i = 0; i < rows.Length; i++)
            {
                long r = rows[i];
                averageB[r] = seen[r] ? Alpha * averageB[r] + (1 - Alpha) * lossB[i] : lossB[i];
                averageD[r] = seen[r] ? Alpha * averageD[r] + (1 - Alpha) * lossD[i] : lossD[i];
                seen[r] = true;
            }
            var expected = new double[rows.Length];
            for (int i = 0; i < rows.Length; i++)
            {
                long c = data.Labels[rows[i]];
                var ofClass = Enumerable.Range(0, data.Count).Where(j => data.Labels[j] == c).ToArray();
                double b = averageB[rows[i]] / ofClass.Max(j => averageB[j]);
                double d = averageD[rows[i]] / ofClass.Max(j => averageD[j]);
                expected[i] = b / (b + d + 1e-8);
            }

            optimizer.zero_grad();
            var batch = new TrainingBatch(debiased, inputs, labels, null, null, tensor(rows), 0, generator);
            var result = objective.Step(batch);
            for (int i = 0; i < rows.Length; i++)
            {
                largestError = Math.Max(largestError, Math.Abs(expected[i] - objective.LastWeights[i]));
                Assert.True(Math.Abs(expected[i] - objective.LastWeights[i]) <= WeightTolerance,
                    $"row {rows[i]}: weight {objective.LastWeights[i]:R}, oracle {expected[i]:R}");
            }
            spread = Math.Max(spread, expected.Max() - expected.Min());

            // The engine's part: one backward, its optimiser steps the debiased model only; the objective steps f_B after.
            var biasedBefore = Copy(biased);
            var debiasedBefore = Copy(debiased);
            result.Objective.backward();
            optimizer.step();
            Assert.True(Same(biasedBefore, biased), "the engine's optimiser must not move the biased model");
            Assert.False(Same(debiasedBefore, debiased), "the debiased model should move");
            objective.AfterStep(batch, result);
            Assert.False(Same(biasedBefore, biased), "the objective's optimiser should move the biased model");
            Dispose(biasedBefore);
            Dispose(debiasedBefore);
        }
        output.WriteLine($"largest |W - oracle| {largestError:G3}; largest spread of W within a batch {spread:G3}");
        Assert.True(spread > 0.05, "the case should give rows different weights");
    }

    [Fact]
    public void Lff_trains_both_models_and_never_reads_training_groups()
    {
        // Through the engine: a training set whose group column is present but garbage gives the same models as one
        // without groups, and both networks moved from their starting weights.
        using var withGroups = TinyDataset(rows: 24, seed: 5, garbageGroups: true);
        using var withoutGroups = TinyDataset(rows: 24, seed: 5);
        var (debiasedA, biasedA, startA) = TrainThroughEngine(withGroups);
        var (debiasedB, biasedB, startB) = TrainThroughEngine(withoutGroups);
        try
        {
            Assert.True(Same(debiasedA, debiasedB), "groups in the batch changed the debiased model");
            Assert.True(Same(biasedA, biasedB), "groups in the batch changed the biased model");
            Assert.False(Same(startA.Debiased, debiasedA), "the debiased model should have trained");
            Assert.False(Same(startA.Biased, biasedA), "the biased model should have trained");
        }
        finally
        {
            foreach (var state in new[] { debiasedA, biasedA, debiasedB, biasedB, startA.Debiased, startA.Biased, startB.Debiased, startB.Biased })
                Dispose(state);
        }

        // Through the trainer: a garbage group column named in the options is not read for training.
        var ml = new MLContext(0);
        var rows = BiasedShapes.Rows(64, 0.9, 71);
        var random = new Random(1);
        var garbage = rows.Select(r => new BiasedShapes.Row { Features = r.Features, Label = r.Label, Group = $"junk{random.Next(1000)}" }).ToList();
        using var plain = ml.MulticlassClassification.Trainers.Lff(Small(new LffTrainer.Options())).Fit(BiasedShapes.ToDataView(ml, rows));
        var named = Small(new LffTrainer.Options { GroupColumnName = "Group" });
        using var junk = ml.MulticlassClassification.Trainers.Lff(named).Fit(BiasedShapes.ToDataView(ml, garbage));
        var expected = plain.Network.state_dict();
        foreach (var (name, t) in junk.Network.state_dict())
            Assert.True(t.Identical(expected[name]), $"{name} differs with a garbage group column");
    }

    /// <summary>
    /// On <see cref="BiasedShapes"/> (bar orientation, colour agreeing with it in 95 % of 2000 training rows) an MLP
    /// learns the colour long before the orientation, so ERM stays biased; LfF's weights put the colour-conflicting rows
    /// first. Same network, epochs, seed and validation-based epoch choice for both. Measured with seeds 1-4 and 7:
    /// ERM 0.30-0.33, LfF 0.45-0.54. (On <see cref="BiasedDigits"/>, a binary task whose true feature is far harder
    /// than its background colour, the debiased model instead learns the reversed colour from the up-weighted
    /// conflicting rows, with a small CNN and with an MLP: LfF's known failure where the conflicting rows form a
    /// perfect anti-shortcut.)
    /// </summary>
    [Fact]
    public void Lff_beats_Erm_on_test_worst_group_accuracy()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(2000, 0.95, 61));
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(50, 62));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(250, 63));
        double Test(ITransformer model) => ml.MulticlassClassification.EvaluateGroups(model.Transform(test)).WorstGroupAccuracy;

        using var erm = ml.MulticlassClassification.Trainers.Erm(Comparable(new ErmTrainer.Options())).Fit(train, validation);
        using var lff = ml.MulticlassClassification.Trainers.Lff(Comparable(new LffTrainer.Options())).Fit(train, validation);

        double ermWga = Test(erm), lffWga = Test(lff);
        double ermSeconds = erm.History.Epochs.Sum(e => e.Seconds), lffSeconds = lff.History.Epochs.Sum(e => e.Seconds);
        output.WriteLine($"ERM validation worst group: {string.Join(" ", erm.History.Epochs.Select(e => $"{e.ValidationWorstGroupAccuracy:F2}"))} (selected {erm.History.SelectedEpoch})");
        output.WriteLine($"LfF validation worst group / mean W: {string.Join(" ", lff.History.Epochs.Select(e => $"{e.ValidationWorstGroupAccuracy:F2}/{e.MeanDual:F2}"))} (selected {lff.History.SelectedEpoch})");
        output.WriteLine($"test worst-group accuracy: ERM {ermWga:F3}, LfF {lffWga:F3}; epochs' seconds ERM {ermSeconds:F1}, LfF {lffSeconds:F1} ({lffSeconds / ermSeconds:F2}x)");
        Assert.True(lffWga > ermWga, $"LfF {lffWga:F3} should beat ERM {ermWga:F3}");
    }

    [Fact]
    public void Lff_model_saved_and_loaded_scores_and_evaluates_identically_and_gives_row_weights()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(96, 0.9, 21));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(15, 22));
        var reports = new List<EpochReport>();
        var options = Small(new LffTrainer.Options { Progress = new SynchronousProgress<EpochReport>(reports.Add) });
        using var model = ml.MulticlassClassification.Trainers.Lff(options).Fit(train);
        var before = model.Transform(test);
        var scoresBefore = before.GetColumn<float[]>("Score").ToArray();
        var metricsBefore = ml.MulticlassClassification.Evaluate(before);
        var groupsBefore = ml.MulticlassClassification.EvaluateGroups(before);

        using var folder = new TempFolder();
        var path = folder.Combine("lff.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext(seed: 9);
        var loaded = fresh.Model.Load(path, out _);
        var after = loaded.Transform(BiasedShapes.ToDataView(fresh, BiasedShapes.Groups(15, 22)));
        var scoresAfter = after.GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < scoresBefore.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(scoresBefore[i][c] - scoresAfter[i][c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}");
        Assert.Equal(metricsBefore.MicroAccuracy, fresh.MulticlassClassification.Evaluate(after).MicroAccuracy);
        Assert.Equal(groupsBefore.WorstGroupAccuracy, fresh.MulticlassClassification.EvaluateGroups(after).WorstGroupAccuracy);

        // Every epoch reports the mean weight; every training row has a final weight in [0, 1).
        Assert.All(reports, r => Assert.InRange(r.MeanDual!.Value, 0, 1));
        var rows = model.Rows!;
        Assert.Equal(96, rows.Multipliers.Count);
        Assert.All(rows.Multipliers, w => Assert.InRange(w, 0f, 1f));
        Assert.All(rows.Traces, t => Assert.True(float.IsNaN(t)));
        Assert.Null(rows.Bound);
    }

    [Fact]
    public void Lff_options_out_of_range_are_named_and_the_simple_overload_sets_them()
    {
        var ml = new MLContext(0);
        var good = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.5, 41));
        int steps = 0;
        void Check(Action<LffTrainer.Options> change, string option)
        {
            var options = Small(new LffTrainer.Options { StepProgress = new SynchronousProgress<StepReport>(_ => steps++) });
            change(options);
            var e = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.Lff(options).Fit(good));
            Assert.Equal(option, e.ParamName);
            Assert.Contains(option, e.Message);
            Assert.Equal(0, steps);
        }
        Check(o => o.Q = 0, "Q");
        Check(o => o.Q = -0.5, "Q");
        Check(o => o.Q = 1.5, "Q");
        Check(o => o.Q = double.NaN, "Q");
        Check(o => o.EmaAlpha = 1, "EmaAlpha");
        Check(o => o.EmaAlpha = -0.1, "EmaAlpha");
        Check(o => o.EmaAlpha = double.NaN, "EmaAlpha");
        Check(o => o.LearningRate = 0, "LearningRate");
        Check(o => o.Momentum = 1, "Momentum");

        var simple = ml.MulticlassClassification.Trainers.Lff(network: NetworkKind.Mlp, numberOfEpochs: 3, batchSize: 8, learningRate: 0.01, q: 0.5);
        Assert.Equal((NetworkKind.Mlp, 3, 8, 0.01, 0.5, 0.7), (simple.TrainerOptions.Network, simple.TrainerOptions.NumberOfEpochs,
            simple.TrainerOptions.BatchSize, simple.TrainerOptions.LearningRate, simple.TrainerOptions.Q, simple.TrainerOptions.EmaAlpha));
        var defaults = new LffTrainer.Options();
        Assert.Equal((0.7, 0.7), (defaults.Q, defaults.EmaAlpha));
    }

    [Fact]
    public void Lff_with_the_same_seed_gives_the_same_scores_and_keeps_live_tensors_flat()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.9, 51));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(8, 52));
        var counts = new List<long>();
        var first = Small(new LffTrainer.Options { NumberOfEpochs = 6, BatchSize = 8 });
        first.StepProgress = new SynchronousProgress<StepReport>(_ => counts.Add(DisposeScopeManager.Statistics.ThreadTotalLiveCount));
        using var a = ml.MulticlassClassification.Trainers.Lff(first).Fit(train);
        using var b = ml.MulticlassClassification.Trainers.Lff(Small(new LffTrainer.Options { NumberOfEpochs = 6, BatchSize = 8 })).Fit(train);
        Assert.Equal(a.Transform(test).GetColumn<float[]>("Score").ToArray(), b.Transform(test).GetColumn<float[]>("Score").ToArray());
        Assert.Equal(a.Rows!.Multipliers, b.Rows!.Multipliers);

        using var other = ml.MulticlassClassification.Trainers.Lff(Small(new LffTrainer.Options { NumberOfEpochs = 6, BatchSize = 8, Seed = 12 })).Fit(train);
        Assert.NotEqual(a.Transform(test).GetColumn<float[]>("Score").ToArray(), other.Transform(test).GetColumn<float[]>("Score").ToArray());

        // After the first epochs (both optimisers' state), the count of live tensors does not grow.
        Assert.Equal(48, counts.Count);
        long settled = counts[16];
        Assert.All(counts.Skip(16), c => Assert.True(c <= settled, $"live tensors grew from {settled} to {c}"));
    }

    [Fact]
    public void Lff_run_cancelled_after_an_epoch_and_resumed_ends_with_the_weights_and_row_weights_of_an_uninterrupted_run()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(96, 0.9, 31));
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(8, 32));
        LffTrainer.Options Options(string? folder) => Small(new LffTrainer.Options
        {
            NumberOfEpochs = 4, CheckpointDirectory = folder, ModelSelection = ModelSelection.ValidationWorstGroupAccuracy, GroupColumnName = "Group",
        });
        using var uninterrupted = ml.MulticlassClassification.Trainers.Lff(Options(null)).Fit(train, validation);

        using var folder = new TempFolder();
        using var cancel = new CancellationTokenSource();
        var interrupted = Options(folder.Path);
        interrupted.CancellationToken = cancel.Token;
        interrupted.Progress = new SynchronousProgress<EpochReport>(r => { if (r.Epoch == 1) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.Lff(interrupted).Fit(train, validation));

        var resumed = Options(folder.Path);
        resumed.ResumeFromCheckpoint = true;
        var epochsRun = new List<int>();
        resumed.Progress = new SynchronousProgress<EpochReport>(r => epochsRun.Add(r.Epoch));
        using var model = ml.MulticlassClassification.Trainers.Lff(resumed).Fit(train, validation);

        Assert.Equal(new[] { 2, 3 }, epochsRun);
        Assert.Equal(uninterrupted.History.SelectedEpoch, model.History.SelectedEpoch);
        Assert.Equal(uninterrupted.History.Epochs.Select(e => e.TrainingLoss), model.History.Epochs.Select(e => e.TrainingLoss));
        Assert.Equal(uninterrupted.History.Epochs.Select(e => e.MeanDual), model.History.Epochs.Select(e => e.MeanDual));
        // The final row weights depend on the biased model and the averages: they match only if both were restored.
        Assert.Equal(uninterrupted.Rows!.Multipliers, model.Rows!.Multipliers);
        var expected = uninterrupted.Network.state_dict();
        foreach (var (name, tensor) in model.Network.state_dict())
            Assert.True(tensor.Identical(expected[name]), $"{name} differs after resuming");
    }

    private static T Comparable<T>(T options) where T : NetworkTrainerOptions
    {
        options.Network = NetworkKind.Mlp;
        options.NetworkWidth = 64;
        options.NumberOfEpochs = 20;
        options.BatchSize = 32;
        options.LearningRate = 1e-3;
        options.Optimizer = OptimizerKind.Adam;
        options.Seed = 7;
        options.Device = TrainingDevice.Cpu;
        options.GroupColumnName = "Group";
        options.ModelSelection = ModelSelection.ValidationWorstGroupAccuracy;
        options.Warnings = new SynchronousProgress<string>(_ => { });
        return options;
    }

    private static LffTrainer.Options Small(LffTrainer.Options options)
    {
        options.Network = NetworkKind.SmallCnn;
        options.NetworkWidth = 4;
        if (options.NumberOfEpochs == TrainerDefaults.NumberOfEpochs) options.NumberOfEpochs = 2;
        options.BatchSize = options.BatchSize == TrainerDefaults.BatchSize ? 16 : options.BatchSize;
        options.LearningRate = 3e-3;
        options.Optimizer = OptimizerKind.Adam;
        options.Seed = options.Seed == 0 ? 5 : options.Seed;
        options.Device = TrainingDevice.Cpu;
        options.Warnings = new SynchronousProgress<string>(_ => { });
        return options;
    }

    private static ClassifierNetwork TinyNetwork() => NetworkFactory.Create(NetworkKind.Mlp, Classes, TinyShape, 8);

    private static TensorDataset TinyDataset(int rows, int seed, bool garbageGroups = false, double scale = 1)
    {
        var random = new Random(seed);
        var features = new float[rows * TinyShape.Size];
        for (int i = 0; i < features.Length; i++) features[i] = (float)(scale * (random.NextDouble() * 2 - 1));
        var labels = Enumerable.Range(0, rows).Select(i => (long)(i % Classes)).ToArray();
        int[]? groups = garbageGroups ? Enumerable.Range(0, rows).Select(_ => random.Next(5)).ToArray() : null;
        return new TensorDataset(tensor(features).reshape(rows, TinyShape.Channels, TinyShape.Height, TinyShape.Width), 1f, TinyShape,
            labels, Classes, groups, garbageGroups ? ["a", "b", "c", "d", "e"] : null, null);
    }

    /// <summary>Trains tiny LfF models through the engine; returns the final and starting weights of both.</summary>
    private static (Dictionary<string, Tensor> Debiased, Dictionary<string, Tensor> Biased, (Dictionary<string, Tensor> Debiased, Dictionary<string, Tensor> Biased) Start)
        TrainThroughEngine(TensorDataset data)
    {
        var options = new LffTrainer.Options { NumberOfEpochs = 2, BatchSize = 5, LearningRate = 0.05, Seed = 3, Device = TrainingDevice.Cpu };
        torch.manual_seed(11);
        using var debiased = TinyNetwork();
        var debiasedStart = Copy(debiased);
        Dictionary<string, Tensor>? biasedStart = null;
        ClassifierNetwork Factory()
        {
            var network = TinyNetwork();
            biasedStart = Copy(network);
            return network;
        }
        using var objective = new LffObjective(options.Q, options.EmaAlpha, options);
        new TrainingEngine(options, objective, CPU, "test", Factory).Run(debiased, data, null);
        return (Copy(debiased), Copy(objective.BiasedNetwork), (debiasedStart, biasedStart!));
    }

    private static double[] CrossEntropyInDouble(Tensor logits, long[] rows, long[] labels)
    {
        var values = logits.to(ScalarType.Float64).data<double>().ToArray();
        int k = (int)logits.shape[1];
        var losses = new double[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            var row = values.AsSpan(i * k, k);
            double max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            foreach (var v in row) sum += Math.Exp(v - max);
            losses[i] = max + Math.Log(sum) - row[(int)labels[rows[i]]];
        }
        return losses;
    }

    private static Dictionary<string, Tensor> Copy(nn.Module module)
        => module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());

    private static bool Same(Dictionary<string, Tensor> expected, nn.Module module) => Same(expected, Copy(module), dispose: true);

    private static bool Same(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b, bool dispose = false)
    {
        bool same = a.All(kv => kv.Value.Identical(b[kv.Key]));
        if (dispose) Dispose(b);
        return same;
    }

    private static void Dispose(Dictionary<string, Tensor> state)
    {
        foreach (var t in state.Values) t.Dispose();
    }
}
