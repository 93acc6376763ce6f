using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using Xunit.Abstractions;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// On a small biased image set (the label is a bar's orientation, its colour agrees with the label in 95 % of the
/// training rows and is independent of it in validation and test), FlatDebias and GroupDRO reach a higher test
/// worst-group accuracy than ERM with the same network, epochs and seed. Every setting is chosen on validation.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class DebiasingTests(ITestOutputHelper output)
{
    /// <summary>The network, schedule and seed every method gets on the in-test biased digits (also TwoStageTrainerTests').</summary>
    internal static T Same<T>(T options) where T : NetworkTrainerOptions
    {
        options.Network = NetworkKind.SmallCnn;
        options.NetworkWidth = 8;
        options.NumberOfEpochs = 10;
        options.BatchSize = 32;
        options.LearningRate = 2e-3;
        options.Optimizer = OptimizerKind.Adam;
        options.Seed = 7;
        options.Device = TrainingDevice.Cpu;
        options.GroupColumnName = "Group";
        options.ModelSelection = ModelSelection.ValidationWorstGroupAccuracy;
        return options;
    }

    [Fact]
    public void FlatDebias_and_GroupDro_beat_Erm_on_test_worst_group_accuracy()
    {
        var ml = new MLContext(0);
        var train = BiasedDigits.ToDataView(ml, BiasedDigits.Train(2000, 0.97, 61));
        var validation = BiasedDigits.ToDataView(ml, BiasedDigits.Balanced(50, 62, fromTestSplit: false, offset: 50000));
        var test = BiasedDigits.ToDataView(ml, BiasedDigits.Balanced(250, 63, fromTestSplit: true));

        double Test(ITransformer model) => ml.MulticlassClassification.EvaluateGroups(model.Transform(test)).WorstGroupAccuracy;
        double Validation(ClassifierNetworkTransformer model) => model.History.Epochs[model.History.SelectedEpoch].ValidationWorstGroupAccuracy!.Value;

        using var erm = ml.MulticlassClassification.Trainers.Erm(Same(new ErmTrainer.Options())).Fit(train, validation);
        using var dro = ml.MulticlassClassification.Trainers.GroupDro(Same(new GroupDroTrainer.Options())).Fit(train, validation);

        // The library's default constraint settings; the bound is chosen on validation worst-group accuracy from a
        // small grid of quantiles, as a user would (the paper gives no epsilon).
        ClassifierNetworkTransformer? flat = null;
        foreach (var quantile in new[] { 0.8, 0.9 })
        {
            var candidate = ml.MulticlassClassification.Trainers.FlatDebias(Same(new FlatDebiasTrainer.Options { TraceBoundQuantile = quantile })).Fit(train, validation);
            output.WriteLine($"FlatDebias q={quantile}: validation WGA {Validation(candidate):F3} at epoch {candidate.History.SelectedEpoch}, test WGA {Test(candidate):F3}; " +
                string.Join(" ", candidate.History.Epochs.Select(e => $"{e.ValidationWorstGroupAccuracy:F2}/{e.ActiveConstraintShare:F2}")));
            if (flat is null || Validation(candidate) > Validation(flat)) { flat?.Dispose(); flat = candidate; }
            else candidate.Dispose();
        }
        using var chosen = flat!;

        double ermWga = Test(erm), droWga = Test(dro), flatWga = Test(chosen);
        output.WriteLine($"ERM epochs: {string.Join(" ", erm.History.Epochs.Select(e => $"{e.ValidationWorstGroupAccuracy:F2}"))} (selected {erm.History.SelectedEpoch})");
        output.WriteLine($"GroupDRO epochs: {string.Join(" ", dro.History.Epochs.Select(e => $"{e.ValidationWorstGroupAccuracy:F2}"))} (selected {dro.History.SelectedEpoch})");
        output.WriteLine($"test worst-group accuracy: ERM {ermWga:F3}, GroupDRO {droWga:F3}, FlatDebias {flatWga:F3}");
        Assert.True(droWga > ermWga, $"GroupDRO {droWga:F3} should beat ERM {ermWga:F3}");
        Assert.True(flatWga > ermWga, $"FlatDebias {flatWga:F3} should beat ERM {ermWga:F3}");
    }
}
