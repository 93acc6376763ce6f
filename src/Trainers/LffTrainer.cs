using MLNet.FlatDebias.Trainers.Objectives;
using MLNet.FlatDebias.Trainers.Engine;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Learning from Failure (Nam et al., NeurIPS 2020): trains an intentionally biased network alongside the returned
/// one and up-weights, for the returned network, the rows the biased network finds hard. Like
/// <see cref="FlatDebiasTrainer"/> it needs no group labels for training: a validation set with groups is used only to
/// choose the epoch.
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b>: two networks of the same architecture and starting weights source
/// (<see cref="NetworkTrainerOptions.Network"/>, <see cref="NetworkTrainerOptions.PretrainedWeightsPath"/>) see the same
/// batches. The biased model <c>f_B</c> is trained on the generalized cross-entropy <c>GCE_q = (1 - p_y^q) / q</c>,
/// which leans on the rows that are easiest to fit; the debiased model <c>f_D</c>, the one returned, on the
/// cross-entropy of each row weighted by <c>W(x) = L_B(x) / (L_B(x) + L_D(x))</c>, where <c>L_B</c>, <c>L_D</c> are the
/// two models' cross-entropies on that row, averaged over the row's visits by an exponential moving average
/// (<see cref="Options.EmaAlpha"/>) and divided by the largest average of the row's class. <c>W</c> is close to 1 on
/// rows the biased model fails on (typically those that contradict the shortcut) and small on rows it fits. As in the
/// authors' code (alinlab/LfF), the weights are not back-propagated, a constant <c>1e-8</c> is added to the weight's
/// denominator, a row's first visit sets its average to its loss, and the biased model's step is on <c>q GCE_q</c>
/// (whose gradient is their code's: the cross-entropy's times <c>q p_y^q</c>). Both models have an optimiser of
/// <see cref="NetworkTrainerOptions.Optimizer"/>'s kind with the same learning rate, momentum and weight decay; the
/// biased model is discarded after training. Checkpoints hold the biased model, its optimiser and the averages, so a
/// resumed run ends with the weights of an uninterrupted one. Each epoch's <see cref="EpochReport.MeanDual"/> is the
/// mean weight <c>W</c> of the epoch's rows; <see cref="ClassifierNetworkTransformer.Rows"/> gives every training row's
/// final <c>W</c> as <see cref="RowDiagnostics.Multipliers"/>.</para>
/// <para><b>When it fails.</b> With two classes and a true feature much harder to learn than the shortcut, the
/// up-weighted shortcut-conflicting rows form a perfect reversed shortcut, and the debiased model can learn that
/// instead (seen on an MNIST-built binary set with a background-colour shortcut, with a small CNN and with an MLP:
/// worst-group accuracy 0). Choose the epoch on validation worst-group accuracy and compare with
/// <see cref="ErmTrainer"/>.</para>
/// <para><b>Input columns</b>: label (key), features (known-size Single vector), optional example weight (it weighs both
/// models' losses); the group column only in the validation set. <b>Output columns</b>: <c>Score</c>,
/// <c>PredictedLabel</c>.</para>
/// <para><b>Trainer characteristics</b>: multiclass; needs normalisation: no; needs a libtorch backend package in the
/// application; exportable to ONNX: yes (<see cref="ClassifierNetworkTransformer.ExportOnnx"/>). A step runs both
/// networks forward and backward, so an epoch costs about twice an ERM epoch and training holds two networks and two
/// optimisers in memory.</para>
/// </remarks>
public sealed class LffTrainer : NetworkTrainerBase<LffTrainer.Options>
{
    internal LffTrainer(Options options) : base(options) { }

    /// <summary>Options of <see cref="LffTrainer"/>: the shared ones and LfF's two constants.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>The exponent q of the biased model's generalized cross-entropy <c>(1 - p_y^q) / q</c>: larger q
        /// emphasises the rows the biased model already fits and so biases it more (q towards 0 gives the plain
        /// cross-entropy). Default 0.7 (the paper's). Range: (0, 1].</summary>
        public double Q { get; set; } = TrainerDefaults.LffQ;

        /// <summary>The decay alpha of each row's moving average of the two models' losses,
        /// <c>e &lt;- alpha e + (1 - alpha) l</c>: larger alpha smooths the weights over more visits (0 uses the last loss
        /// only). Default 0.7 (the paper's code). Range: [0, 1).</summary>
        public double EmaAlpha { get; set; } = TrainerDefaults.LffEmaAlpha;
    }

    private protected override void ValidateOptions()
    {
        base.ValidateOptions();
        var o = TrainerOptions;
        Require(o.Q > 0 && o.Q <= 1, nameof(o.Q), o.Q, "must be in (0, 1]");
        Require(o.EmaAlpha >= 0 && o.EmaAlpha < 1, nameof(o.EmaAlpha), o.EmaAlpha, "must be in [0, 1)");
    }

    private protected override TrainingObjective CreateObjective() => new LffObjective(TrainerOptions.Q, TrainerOptions.EmaAlpha, TrainerOptions);
}
