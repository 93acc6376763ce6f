using MLNet.FlatDebias.Trainers.Objectives;
using MLNet.FlatDebias.Trainers.Engine;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Group distributionally robust optimisation (Sagawa et al., 2020): minimises the loss of the worst group by
/// exponentiated-gradient weights over the training groups. Needs the training group column, which
/// <see cref="FlatDebiasTrainer"/> does not: GroupDRO is the reference that uses more information.
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b>: group weights <c>q</c> start uniform over the groups present; after
/// each batch <c>q_g &lt;- q_g exp(GroupStepSize (L_g + C / sqrt(n_g)))</c> for the groups in the batch,
/// normalised, and the step minimises <c>sum_g q_g L_g</c>. <c>C</c> is
/// <see cref="Options.GeneralizationAdjustment"/>, <c>n_g</c> the training count of group g.</para>
/// <para><b>Input columns</b>: label (key), features (known-size Single vector), group (key, string, integer or
/// bool), optional example weight. <b>Output columns</b>: <c>Score</c>, <c>PredictedLabel</c>.</para>
/// </remarks>
public sealed class GroupDroTrainer : NetworkTrainerBase<GroupDroTrainer.Options>
{
    internal GroupDroTrainer(Options options) : base(options) { }

    /// <summary>Options of <see cref="GroupDroTrainer"/>.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
        /// <summary>Creates the options with the group column named <c>"Group"</c>.</summary>
        public Options() => GroupColumnName = "Group";

        /// <summary>Step size of the group weights' exponentiated-gradient update. Default 0.01 (Sagawa et al.).
        /// Range: &gt; 0.</summary>
        public double GroupStepSize { get; set; } = TrainerDefaults.GroupStepSize;

        /// <summary>The generalisation adjustment C: group losses are raised by C / sqrt(n_g) in the weight update
        /// (favouring small groups). Default 0 (off). Range: &gt;= 0.</summary>
        public double GeneralizationAdjustment { get; set; }

        /// <summary>Sample training rows with probability inversely proportional to their group's size (with
        /// replacement, one epoch = N draws), so every group is drawn equally often. Default true: the reference code
        /// (Sagawa et al., <c>--reweight_groups</c>) trains GroupDRO this way; false samples uniformly.</summary>
        public bool GroupBalancedSampling { get; set; } = TrainerDefaults.GroupBalancedSampling;
    }

    private protected override bool RequiresTrainingGroups => true;

    private protected override void ValidateOptions()
    {
        base.ValidateOptions();
        if (string.IsNullOrEmpty(TrainerOptions.GroupColumnName))
            throw new ArgumentException("GroupDRO needs GroupColumnName: it trains on the groups.", nameof(TrainerOptions.GroupColumnName));
        Require(TrainerOptions.GroupStepSize > 0 && double.IsFinite(TrainerOptions.GroupStepSize), nameof(TrainerOptions.GroupStepSize), TrainerOptions.GroupStepSize, "must be > 0 and finite");
        Require(TrainerOptions.GeneralizationAdjustment >= 0 && double.IsFinite(TrainerOptions.GeneralizationAdjustment), nameof(TrainerOptions.GeneralizationAdjustment), TrainerOptions.GeneralizationAdjustment, "must be >= 0 and finite");
    }

    private protected override TrainingObjective CreateObjective()
        => new GroupDroObjective(TrainerOptions.GroupStepSize, TrainerOptions.GeneralizationAdjustment, TrainerOptions.GroupBalancedSampling);
}
