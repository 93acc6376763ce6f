using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>Model selection around the epochs an objective trains as plain ERM (<see cref="TrainingObjective.UnconstrainedEpochs"/>:
/// FlatDebias's warm-up and the epoch after it, before any multiplier acts): such an epoch is kept only when it scores strictly
/// better on the selection metric, never with <c>SelectWarmupEpochs = false</c>, and a tie (a worst group of 0 in every epoch,
/// as on the planners' set where FlatDebias returned ERM's model) goes to a constrained epoch. The selection scores are
/// scripted by an objective, so each case is exact.</summary>
[Collection(TorchCollection.Name)]
public sealed class WarmupSelectionTests
{
    [Theory]
    // worst group per epoch, accuracy per epoch, unconstrained (ERM) epochs, select them, expected epoch
    [InlineData(new[] { 0.0, 0, 0, 0 }, new[] { 0.9, 0.8, 0.5, 0.6 }, 2, true, 3)]   // all tied: a constrained epoch, the better of them
    [InlineData(new[] { 0.5, 0.2, 0.3, 0.1 }, new[] { 0.9, 0.8, 0.5, 0.6 }, 2, true, 0)] // the warm-up strictly better: kept
    [InlineData(new[] { 0.5, 0.2, 0.3, 0.1 }, new[] { 0.9, 0.8, 0.5, 0.6 }, 2, false, 2)] // never a warm-up epoch
    [InlineData(new[] { 0.3, 0.2, 0.3, 0.1 }, new[] { 0.9, 0.8, 0.5, 0.6 }, 1, true, 2)] // a tie across the warm-up's end
    [InlineData(new[] { 0.0, 0, 0 }, new[] { 0.9, 0.8, 0.7 }, 0, true, 0)]            // no warm-up: ties by accuracy, as before
    [InlineData(new[] { 0.0, 0, 0 }, new[] { 0.9, 0.8, 0.95 }, 0, true, 2)]
    public void An_erm_epoch_is_kept_only_when_strictly_better(double[] worstGroup, double[] accuracy, int unconstrained, bool selectWarmup, int expected)
    {
        var options = new ErmTrainer.Options
        {
            NumberOfEpochs = worstGroup.Length, BatchSize = 8, LearningRate = 1e-2, Seed = 3, Device = TrainingDevice.Cpu,
            ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
        };
        var shape = new ImageShape(1, 2, 2);
        manual_seed(5);
        using var network = NetworkFactory.Create(NetworkKind.Mlp, 2, shape, 4);
        var random = new Random(1);
        var features = Enumerable.Range(0, 16 * shape.Size).Select(_ => (float)random.NextDouble()).ToArray();
        using var data = new TensorDataset(tensor(features).reshape(16, 1, 2, 2), 1f, shape,
            Enumerable.Range(0, 16).Select(i => (long)(i % 2)).ToArray(), 2, null, null, null);
        var objective = new ScriptedObjective(worstGroup, accuracy, unconstrained, selectWarmup);
        var outcome = new TrainingEngine(options, objective, CPU, "test").Run(network, data, null);
        Assert.Equal(expected, outcome.History.SelectedEpoch);
    }

    /// <summary>Plain ERM steps whose epoch reports carry scripted validation scores; the first <c>unconstrained</c> epochs are
    /// declared ERM's (<see cref="TrainingObjective.UnconstrainedEpochs"/>).</summary>
    private sealed class ScriptedObjective(double[] worstGroup, double[] accuracy, int unconstrained, bool selectWarmup) : TrainingObjective
    {
        public override int UnconstrainedEpochs => unconstrained;

        public override bool SelectWarmupEpochs => selectWarmup;

        public override StepResult Step(TrainingBatch batch)
        {
            var loss = CrossEntropy(batch.Network.forward(batch.Inputs), batch.Labels, batch.Weights);
            return new StepResult(loss, loss.item<float>(), null);
        }

        public override EpochReport OnEpochEnd(int epoch, EpochReport report)
            => report with { ValidationWorstGroupAccuracy = worstGroup[epoch], ValidationAccuracy = accuracy[epoch] };
    }
}
