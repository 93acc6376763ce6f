using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Objectives;
using MLNet.FlatDebias.Trainers.Engine;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Debiasing by per-sample flatness (Han &amp; Lee): trains a network to minimise the loss subject to every
/// training sample's Fisher-information trace staying below a bound, by primal-dual updates with one multiplier
/// per sample. It needs no group labels for training: a validation set with groups is used only to choose the
/// epoch (and, optionally, the bound).
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b>: minimise <c>L(theta)</c> subject to <c>Tr F_i(theta) &lt;= epsilon</c> for
/// every training row i. Each step minimises <c>(1/|B|) sum_i [l_i + lambda_i T_i]</c> over the batch and then
/// moves each row's multiplier <c>lambda_i &lt;- clip(lambda_i + DualLearningRate (T_i - epsilon), 0, MaxDual)</c>
/// (with <see cref="Options.ViolationScale"/> = <see cref="ViolationScale.RelativeToBound"/>: <c>(T_i / epsilon - 1)</c>, the
/// same on any feature scale; <see cref="ViolationScale.RelativeToMeanExcess"/>: <c>(T_i - epsilon) / m</c>, the same for any
/// scale and shift of the traces). The first <see cref="Options.WarmupEpochs"/> epochs are plain ERM; with a quantile bound,
/// epsilon is the <see cref="Options.TraceBoundQuantile"/> quantile of the traces measured at the end of the warm-up. Only rows
/// with a positive multiplier get the penalty's gradient, and a row's multiplier moves only after the step that visits it (once
/// an epoch), so the first epoch after the warm-up is plain ERM too. Model selection keeps one of these ERM epochs only when it
/// scores strictly better than every constrained epoch (<see cref="Options.SelectWarmupEpochs"/>).</para>
/// <para><b>Defaults and the paper's definition.</b> The variant comes from a measured study of the method's variants
/// (<c>docs/method-study.md</c>): the empirical trace (true label) of the last layer, whose value singles out the rows a
/// biased model gets wrong; measured once on the model frozen after an ERM warm-up (as JTT and PGD use a biased model);
/// at most k constrained rows per batch; and a constrained row's penalty is its loss, whose gradient, unlike the trace's,
/// does not vanish for a confidently wrong prediction. Its numbers (a 1-epoch warm-up, epsilon the 0.83 quantile of the
/// warm-up traces, dual step 0.08, cap 84, top 16 per batch) were chosen by the fair benchmark (<c>docs/benchmark.md</c>):
/// 8 random draws per method, the best by validation worst-group accuracy on its choosing sets, then judged on sets nobody
/// tuned on. The paper's exact definition (the model-distribution trace of every parameter, penalised directly,
/// multipliers from the model being trained) is <see cref="Options.PaperExact"/>; on the benchmark's sets it does not
/// raise worst-group accuracy.</para>
/// <para><b>Input columns</b>: label (key), features (known-size Single vector), optional example weight; the
/// group column only in the validation set. <b>Output columns</b>: <c>Score</c>, <c>PredictedLabel</c>.</para>
/// </remarks>
public sealed class FlatDebiasTrainer : NetworkTrainerBase<FlatDebiasTrainer.Options>
{
    internal FlatDebiasTrainer(Options options) : base(options) { }

    /// <summary>Options of <see cref="FlatDebiasTrainer"/>: the shared ones and the constraint's.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>Options with the constraint exactly as the paper defines it: the model-distribution Fisher trace
        /// (<see cref="TraceEstimator.Exact"/>) over every trainable parameter (<see cref="TraceScope.Full"/>), the
        /// penalty <c>lambda_i Tr F_i</c> differentiated through everything (<see cref="TraceGradient.Full"/>), and the
        /// multipliers updated from the model being trained (<see cref="TraceReference.TrainedModel"/>), with the
        /// dual step and cap of the method notes' first measurement (0.1 and 10) in trace units
        /// (<see cref="ViolationScale.Absolute"/>), a 1-epoch warm-up and every row constrained. The paper gives no epsilon; the 0.8 quantile of the warm-up traces is used. Every other setting
        /// is the default.</summary>
        /// <returns>New options; change any setting afterwards.</returns>
        public static Options PaperExact() => new()
        {
            TraceScope = TraceScope.Full,
            TraceEstimator = TraceEstimator.Exact,
            TraceGradient = TraceGradient.Full,
            TraceReference = TraceReference.TrainedModel,
            MultiplierUse = MultiplierUse.Penalty,
            TraceBoundQuantile = 0.8,
            WarmupEpochs = 1,
            DualLearningRate = 0.1,
            MaxDual = 10,
            TopK = null,
            ViolationScale = ViolationScale.Absolute,
        };

        /// <summary>An absolute bound epsilon on every sample's trace, or null (default) to set it from
        /// <see cref="TraceBoundQuantile"/>. Range: &gt;= 0.</summary>
        public double? TraceBound { get; set; }

        /// <summary>When <see cref="TraceBound"/> is null: epsilon is this quantile of the traces measured at the end of
        /// the warm-up. Default 0.83 (the 17 % largest are above the bound). Range: [0, 1].</summary>
        public double TraceBoundQuantile { get; set; } = TrainerDefaults.TraceBoundQuantile;

        /// <summary>Epochs of plain ERM before the multipliers switch on. Default 1. Range: 0 and up, and at least 1
        /// with a quantile bound (the traces are measured then); less than <see cref="NetworkTrainerOptions.NumberOfEpochs"/> - 1
        /// (the multipliers, 0 through the first epoch after the warm-up, act from the second).</summary>
        public int WarmupEpochs { get; set; } = TrainerDefaults.WarmupEpochs;

        /// <summary>Dual step size eta. Default 0.08. Range: &gt; 0. (With the trace itself as the penalty, steps of 1 and more
        /// destabilised training in the method notes' first measurement; with the default loss penalty they do not.)</summary>
        public double DualLearningRate { get; set; } = TrainerDefaults.DualLearningRate;

        /// <summary>The unit of the violation that <see cref="DualLearningRate"/> multiplies: trace units
        /// (<see cref="ViolationScale.Absolute"/>, the default), relative to the bound (<see cref="ViolationScale.RelativeToBound"/>:
        /// one value means the same on any network and feature scale) or relative to the warm-up traces' mean excess over the
        /// bound (<see cref="ViolationScale.RelativeToMeanExcess"/>: also the same across seeds whose traces sit at different
        /// heights). Neither relative unit had a better worst case than the default on the choosing sets
        /// (<c>docs/method-study.md</c>).</summary>
        public ViolationScale ViolationScale { get; set; } = TrainerDefaults.ViolationScale;

        /// <summary>Cap on every multiplier. Default 84: a constrained row weighs up to 85 times an unconstrained one.
        /// Range: &gt; 0.</summary>
        public double MaxDual { get; set; } = TrainerDefaults.MaxDual;

        /// <summary>Which parameters the trace covers. Default <see cref="TraceScope.Head"/>.</summary>
        public TraceScope TraceScope { get; set; } = TrainerDefaults.Scope;

        /// <summary>How the expectation over labels is taken. Default <see cref="TraceEstimator.Empirical"/>.</summary>
        public TraceEstimator TraceEstimator { get; set; } = TrainerDefaults.Estimator;

        /// <summary>Which path the penalty's gradient takes. Default <see cref="TraceGradient.Loss"/>.</summary>
        public TraceGradient TraceGradient { get; set; } = TrainerDefaults.Gradient;

        /// <summary>Whose traces drive the multipliers: the model frozen at the end of the warm-up (default) or the model
        /// being trained (the paper's).</summary>
        public TraceReference TraceReference { get; set; } = TrainerDefaults.Reference;

        /// <summary>How the multipliers act: as the penalty's weights (default) or as sampling weights.</summary>
        public MultiplierUse MultiplierUse { get; set; } = TrainerDefaults.Use;

        /// <summary>Whether model selection may keep an epoch trained as plain ERM: the warm-up epochs and the first epoch after
        /// them, in which every row's multiplier is still 0 when the row is visited. Default true: such an epoch is kept only
        /// when it scores strictly better than every constrained epoch on the selection metric (a tie, such as a worst group of
        /// 0 in every epoch, goes to a constrained epoch, so a tie never hands back ERM's model). With false, the fitted model
        /// is always one trained under the constraint, as JTT's is always its second stage's. Ignored with
        /// <see cref="ModelSelection.LastEpoch"/>.</summary>
        public bool SelectWarmupEpochs { get; set; } = TrainerDefaults.SelectWarmupEpochs;

        /// <summary>Constrain only the k largest traces of each batch, or null for every row. Default 16: at most 16 rows of
        /// a batch carry a penalty, which keeps a few heavily weighted rows from dominating a step. A batch of k rows or
        /// fewer has every row constrained. Range: 1 and up.</summary>
        public int? TopK { get; set; } = TrainerDefaults.TopK;
    }

    private protected override void ValidateOptions()
    {
        base.ValidateOptions();
        var o = TrainerOptions;
        Require(o.TraceBound is null || (o.TraceBound >= 0 && double.IsFinite(o.TraceBound.Value)), nameof(o.TraceBound), o.TraceBound, "must be >= 0 and finite when set");
        Require(o.TraceBoundQuantile >= 0 && o.TraceBoundQuantile <= 1, nameof(o.TraceBoundQuantile), o.TraceBoundQuantile, "must be in [0, 1]");
        Require(o.WarmupEpochs >= 0, nameof(o.WarmupEpochs), o.WarmupEpochs, "must be >= 0");
        Require(o.TraceBound is not null || o.WarmupEpochs >= 1, nameof(o.WarmupEpochs), o.WarmupEpochs, "must be >= 1 when the bound comes from TraceBoundQuantile (the traces are measured during the warm-up)");
        Require(o.WarmupEpochs < o.NumberOfEpochs - 1, nameof(o.WarmupEpochs), o.WarmupEpochs,
            $"must be less than NumberOfEpochs - 1 ({o.NumberOfEpochs - 1}): the multipliers are 0 through the first epoch after the warm-up and act from the second, so with fewer epochs the model is plain ERM's");
        Require(o.DualLearningRate > 0 && double.IsFinite(o.DualLearningRate), nameof(o.DualLearningRate), o.DualLearningRate, "must be > 0 and finite");
        Require(o.MaxDual > 0 && double.IsFinite(o.MaxDual), nameof(o.MaxDual), o.MaxDual, "must be > 0 and finite");
        Require(o.TopK is null or >= 1, nameof(o.TopK), o.TopK, "must be >= 1 when set");
        Require(Enum.IsDefined(o.TraceScope), nameof(o.TraceScope), o.TraceScope, "is not a known scope");
        Require(Enum.IsDefined(o.TraceEstimator), nameof(o.TraceEstimator), o.TraceEstimator, "is not a known estimator");
        Require(Enum.IsDefined(o.TraceGradient), nameof(o.TraceGradient), o.TraceGradient, "is not a known gradient path");
        Require(Enum.IsDefined(o.TraceReference), nameof(o.TraceReference), o.TraceReference, "is not a known trace reference");
        Require(Enum.IsDefined(o.MultiplierUse), nameof(o.MultiplierUse), o.MultiplierUse, "is not a known multiplier use");
        Require(Enum.IsDefined(o.ViolationScale), nameof(o.ViolationScale), o.ViolationScale, "is not a known violation scale");
        Require(o.ViolationScale != ViolationScale.RelativeToMeanExcess || o.TraceBound is null, nameof(o.TraceBound), o.TraceBound,
            "must be null (a quantile bound) with ViolationScale.RelativeToMeanExcess (the unit is the mean excess of the traces the quantile is taken of)");
        Require(o.ViolationScale != ViolationScale.RelativeToMeanExcess || o.TraceBoundQuantile < 1, nameof(o.TraceBoundQuantile), o.TraceBoundQuantile,
            "must be below 1 with ViolationScale.RelativeToMeanExcess (some traces must lie above the bound)");
        Require(o.ViolationScale != ViolationScale.RelativeToBound || o.TraceBound is not 0, nameof(o.TraceBound), o.TraceBound,
            "must be > 0 with ViolationScale.RelativeToBound (the violation is measured relative to it)");
    }

    private protected override TrainingObjective CreateObjective() => new FlatDebiasObjective(new FlatDebiasSettings(
        new TraceSettings(TrainerOptions.TraceScope, TrainerOptions.TraceEstimator, TrainerOptions.TraceGradient),
        TrainerOptions.TraceBound, TrainerOptions.TraceBoundQuantile, TrainerOptions.WarmupEpochs, TrainerOptions.DualLearningRate, TrainerOptions.MaxDual, TrainerOptions.TopK,
        TrainerOptions.TraceReference, TrainerOptions.MultiplierUse, TrainerOptions.ViolationScale, TrainerOptions.SelectWarmupEpochs));
}
