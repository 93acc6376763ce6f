using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Metrics;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>The reports print as one human line (what <c>new Progress&lt;EpochReport&gt;(Console.WriteLine)</c> shows),
/// with epochs and steps counted from 1.</summary>
public sealed class TrainingReportsTests
{
    [Fact]
    public void An_erm_epoch_prints_loss_validation_and_seconds_counted_from_one()
    {
        var report = new EpochReport
        {
            Epoch = 2, NumberOfEpochs = 8, TrainingLoss = 0.23104, ValidationAccuracy = 0.912, ValidationWorstGroupAccuracy = 0.654,
            ValidationWorstClassAccuracy = 0.8, Seconds = 4.08,
        };
        Assert.Equal("epoch 3/8  loss 0.2310  val acc 0.9120  worst group 0.6540  (4.1 s)", report.ToString());
    }

    [Fact]
    public void A_flatdebias_epoch_prints_its_trace_and_bound_and_a_groupdro_epoch_its_top_weight()
    {
        var flat = new EpochReport
        {
            Epoch = 0, NumberOfEpochs = 2, TrainingLoss = 1.5, MeanTrace = 0.012345, TraceBound = 0.05, ActiveConstraintShare = 0.031,
            Seconds = 12,
        };
        Assert.Equal("epoch 1/2  loss 1.5000  trace 0.0123 (bound 0.05, active 3.1 %)  (12.0 s)", flat.ToString());

        var dro = new EpochReport
        {
            Epoch = 4, NumberOfEpochs = 5, TrainingLoss = 0.5, Seconds = 1,
            GroupWeights = new Dictionary<string, double> { ["landbird/land"] = 0.1, ["waterbird/land"] = 0.7, ["landbird/water"] = 0.2 },
        };
        Assert.Equal("epoch 5/5  loss 0.5000  top group weight 0.700 (waterbird/land)  (1.0 s)", dro.ToString());
        Assert.DoesNotContain("=", dro.ToString()); // not the record's member dump
    }

    [Fact]
    public void A_step_prints_epoch_and_step_counted_from_one()
    {
        Assert.Equal("epoch 2, step 14/75  loss 0.4120", new StepReport(1, 13, 75, 0.412, null).ToString());
        Assert.Equal("epoch 1, step 1/3  loss 0.4120  trace 0.0311", new StepReport(0, 0, 3, 0.412, 0.0311).ToString());
    }
}
