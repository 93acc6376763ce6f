using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Losses;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// PGD, per-sample gradient-based debiasing (Ahn, Kim &amp; Yun, ICLR 2023): a biased model trained with the generalized
/// cross-entropy (q = 0.7) scores each training row by the norm of its cross-entropy gradient with respect to the last
/// layer's weights, <c>||p_i - e_y||_r ||h_i||_r</c> (<see cref="LastLayerGradientNorm"/>); the debiased model, started
/// from the biased one, is trained with rows drawn with probability proportional to that score. Needs no group labels.
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b>: stage 1 trains with GCE(q) for <see cref="TwoStageTrainerOptions.FirstStageEpochs"/>
/// epochs; every row's gradient norm is read with that model frozen in evaluation mode; stage 2 trains with
/// cross-entropy for <see cref="NetworkTrainerOptions.NumberOfEpochs"/> epochs, N rows drawn per epoch with replacement
/// in proportion to the norms. <see cref="TrainingHistory.FirstStage"/> holds stage 1's epochs and the sampling
/// probabilities.</para>
/// <para><b>Input columns</b>: label (key), features (known-size Single vector), optional example weight.
/// <b>Output columns</b>: <c>Score</c>, <c>PredictedLabel</c>.</para>
/// </remarks>
public sealed class PgdTrainer : TwoStageTrainerBase<PgdTrainer.Options>
{
    internal PgdTrainer(Options options) : base(options) { }

    /// <summary>Options of <see cref="PgdTrainer"/>.</summary>
    public sealed class Options : TwoStageTrainerOptions
    {
        /// <summary>q of the biased model's generalized cross-entropy. Default 0.7 (the paper's, as LfF's). Range: (0, 1].</summary>
        public double GceQ { get; set; } = GeneralizedCrossEntropy.DefaultQ;

        /// <summary>r of the entrywise r-norm of the per-row gradient. Default 0.7, the released code's default
        /// (<c>--norm_scale</c>), which produced the paper's numbers; 2 is the Euclidean norm the paper writes.
        /// Range: finite and &gt; 0.</summary>
        public double NormExponent { get; set; } = TrainerDefaults.PgdNormExponent;

        /// <summary>Where the second stage starts. Default <see cref="SecondStageStart.FromFirstStage"/> (the paper
        /// initialises the debiased model with the biased one).</summary>
        public override SecondStageStart SecondStageStart { get; set; } = SecondStageStart.FromFirstStage;
    }

    private protected override void ValidateOptions()
    {
        base.ValidateOptions();
        var o = TrainerOptions;
        Require(o.GceQ > 0 && o.GceQ <= 1, nameof(o.GceQ), o.GceQ, "must be in (0, 1]");
        Require(o.NormExponent > 0 && double.IsFinite(o.NormExponent), nameof(o.NormExponent), o.NormExponent, "must be > 0 and finite");
    }

    private protected override TrainingObjective CreateObjective() => new GceObjective(TrainerOptions.GceQ);

    private protected override RowWeightUse WeightUse => RowWeightUse.Sampling;

    private protected override (double[] Weights, IReadOnlyList<int> Selected) RowWeights(ClassifierNetwork firstStage, TensorDataset training, TorchSharp.torch.Device device)
    {
        var probabilities = SamplingProbabilities(firstStage, training, device, ScoringBatchSize, TrainerOptions.NormExponent);
        double uniform = 1.0 / probabilities.Length;
        return (probabilities, [.. Enumerable.Range(0, probabilities.Length).Where(i => probabilities[i] > uniform)]);
    }

    /// <summary>Every training row's sampling probability: its last-layer gradient norm under the frozen model, divided
    /// by the sum over rows (uniform when every norm is 0).</summary>
    internal static double[] SamplingProbabilities(ClassifierNetwork network, TensorDataset training, TorchSharp.torch.Device device, int batchSize, double r)
    {
        var norms = FrozenModelRowScores.Compute(network, training, device, batchSize, (net, x, y) => LastLayerGradientNorm.Compute(net, x, y, r));
        double total = norms.Sum(n => (double)n);
        return total > 0 && double.IsFinite(total)
            ? [.. norms.Select(n => n / total)]
            : [.. Enumerable.Repeat(1.0 / norms.Length, norms.Length)];
    }
}
