using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// What <see cref="JttTrainer"/> and <see cref="PgdTrainer"/> share: both stages on the one training engine inside one
/// <c>Fit</c>. Stage 1 trains the network with <see cref="NetworkTrainerBase{TOptions}.CreateObjective"/> for
/// <see cref="TwoStageTrainerOptions.FirstStageEpochs"/> epochs and keeps the last; one pass of that frozen model scores
/// every training row (the method's row weights); stage 2 restarts from the initial weights or continues
/// (<see cref="TwoStageTrainerOptions.SecondStageStart"/>) with a fresh optimiser and cross-entropy, the rows weighted by
/// the scores. Neither stage reads training group labels.
/// </summary>
/// <typeparam name="TOptions">The trainer's options.</typeparam>
public abstract class TwoStageTrainerBase<TOptions> : NetworkTrainerBase<TOptions>
    where TOptions : TwoStageTrainerOptions
{
    private protected TwoStageTrainerBase(TOptions options) : base(options) { }

    /// <summary>How the second stage uses the row weights.</summary>
    private protected abstract RowWeightUse WeightUse { get; }

    /// <summary>The second stage's weight of every training row, from the frozen first-stage model, and the rows it
    /// singled out (<see cref="FirstStageSummary.UpweightedRows"/>).</summary>
    private protected abstract (double[] Weights, IReadOnlyList<int> Selected) RowWeights(ClassifierNetwork firstStage, TensorDataset training, Device device);

    private protected override void ValidateOptions()
    {
        base.ValidateOptions();
        var o = TrainerOptions;
        Require(o.FirstStageEpochs >= 1, nameof(o.FirstStageEpochs), o.FirstStageEpochs, "must be >= 1");
        Require(Enum.IsDefined(o.SecondStageStart), nameof(o.SecondStageStart), o.SecondStageStart, "is not a known start");
    }

    private protected override TrainingOutcome Train(TrainingRun run)
    {
        var o = TrainerOptions;
        var initial = run.Network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
        try
        {
            var first = new TrainingEngine(o.ForStage(1, o.FirstStageEpochs, ModelSelection.LastEpoch), CreateObjective(), run.Device,
                run.Fingerprint + "|stage1").Run(run.Network, run.Training, run.Validation);
            var (weights, selected) = RowWeights(run.Network, run.Training, run.Device);

            if (o.SecondStageStart == SecondStageStart.FromScratch)
                using (no_grad())
                    foreach (var (name, tensor) in run.Network.state_dict()) tensor.copy_(initial[name]);
            var second = new TrainingEngine(o.ForStage(2, o.NumberOfEpochs, o.ModelSelection), new RowWeightedObjective(weights, WeightUse), run.Device,
                run.Fingerprint + "|stage2").Run(run.Network, run.Training, run.Validation);

            var summary = new FirstStageSummary([.. first.History.Epochs.Select(e => e with { Stage = 1 })], weights, selected);
            var history = second.History with
            {
                Epochs = [.. second.History.Epochs.Select(e => e with { Stage = 2 })],
                FirstStage = summary,
            };
            return second with { History = history };
        }
        finally
        {
            foreach (var t in initial.Values) t.Dispose();
        }
    }

    /// <summary>The network's evaluation batch size for the scoring pass.</summary>
    private protected int ScoringBatchSize => TrainerOptions.EvaluationBatchSize;
}
