using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Just Train Twice (Liu et al., ICML 2021): ERM for T epochs (<see cref="TwoStageTrainerOptions.FirstStageEpochs"/>);
/// the training rows that model misclassifies form the error set E; a second model is trained with E upweighted
/// <c>lambda_up</c> times (<see cref="Options.UpweightFactor"/>). Needs no training group labels (the paper tunes T and
/// lambda_up on validation worst-group accuracy, which needs validation groups).
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b>: stage 1 is exactly <see cref="ErmTrainer"/> with the same options for T
/// epochs (the same initial weights and batch order); E is read with that model frozen in evaluation mode; stage 2
/// restarts from the initial weights (the paper trains the second model from scratch;
/// <see cref="SecondStageStart.FromFirstStage"/> continues instead) with a fresh optimiser for
/// <see cref="NetworkTrainerOptions.NumberOfEpochs"/> epochs. <see cref="TrainingHistory.FirstStage"/> holds stage 1's
/// epochs and E (<see cref="FirstStageSummary.UpweightedRows"/>).</para>
/// <para><b>Input columns</b>: label (key), features (known-size Single vector), optional example weight.
/// <b>Output columns</b>: <c>Score</c>, <c>PredictedLabel</c>.</para>
/// </remarks>
public sealed class JttTrainer : TwoStageTrainerBase<JttTrainer.Options>
{
    internal JttTrainer(Options options) : base(options) { }

    /// <summary>Options of <see cref="JttTrainer"/>.</summary>
    public sealed class Options : TwoStageTrainerOptions
    {
        /// <summary>lambda_up: how many times more an error-set row weighs in the second stage. Default 100 (the paper's
        /// Waterbirds value, with T = 60 of 300 epochs; its CelebA value is 50, MultiNLI 6). Range: 1 and up (1 gives
        /// every row the same weight).</summary>
        public double UpweightFactor { get; set; } = TrainerDefaults.JttUpweightFactor;

        /// <summary>How the error set is upweighted. Default <see cref="JttUpweighting.Sampling"/> (the released code's
        /// upsampling, at a fixed epoch length).</summary>
        public JttUpweighting Upweighting { get; set; } = JttUpweighting.Sampling;

        /// <summary>Where the second stage starts. Default <see cref="SecondStageStart.FromScratch"/> (the paper).</summary>
        public override SecondStageStart SecondStageStart { get; set; } = SecondStageStart.FromScratch;
    }

    private protected override void ValidateOptions()
    {
        base.ValidateOptions();
        var o = TrainerOptions;
        Require(o.UpweightFactor >= 1 && double.IsFinite(o.UpweightFactor), nameof(o.UpweightFactor), o.UpweightFactor, "must be >= 1 and finite");
        Require(Enum.IsDefined(o.Upweighting), nameof(o.Upweighting), o.Upweighting, "is not a known upweighting");
    }

    private protected override TrainingObjective CreateObjective() => new ErmObjective();

    private protected override RowWeightUse WeightUse
        => TrainerOptions.Upweighting == JttUpweighting.LossWeight ? RowWeightUse.LossWeight : RowWeightUse.Sampling;

    private protected override (double[] Weights, IReadOnlyList<int> Selected) RowWeights(ClassifierNetwork firstStage, TensorDataset training, Device device)
    {
        var misclassified = ErrorSetScores(firstStage, training, device, ScoringBatchSize);
        double[] weights = [.. misclassified.Select(m => m > 0 ? TrainerOptions.UpweightFactor : 1.0)];
        return (weights, [.. Enumerable.Range(0, misclassified.Length).Where(i => misclassified[i] > 0)]);
    }

    /// <summary>1 for every training row the frozen model misclassifies (arg max of its logits is not the label), else 0.</summary>
    internal static float[] ErrorSetScores(ClassifierNetwork network, TensorDataset training, Device device, int batchSize)
        => FrozenModelRowScores.Compute(network, training, device, batchSize, (net, x, y) =>
        {
            using var noGrad = no_grad();
            return net.forward(x).argmax(1).ne(y).to(ScalarType.Float32);
        });
}
