using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Tests.Trainers;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Hardening;

/// <summary>Every bad input to the trainers gets a clear exception naming the item, before any training step.</summary>
[Collection(TorchCollection.Name)]
public sealed class TrainerBadInputTests
{
    private readonly MLContext ml = new(0);
    private int steps;

    private T Options<T>(T options) where T : NetworkTrainerOptions
    {
        options.Network = NetworkKind.SmallCnn;
        options.NetworkWidth = 4;
        options.NumberOfEpochs = 1;
        options.Device = TrainingDevice.Cpu;
        options.StepProgress = new SynchronousProgress<StepReport>(_ => steps++);
        return options;
    }

    private IDataView Good(int rows = 32) => BiasedShapes.ToDataView(ml, BiasedShapes.Rows(rows, 0.5, 41));

    private TException Fails<TException>(Func<object> fit, params string[] named) where TException : Exception
    {
        var e = Assert.ThrowsAny<TException>(() => fit());
        foreach (var text in named) Assert.Contains(text, e.Message);
        Assert.Equal(0, steps);
        return e;
    }

    [Fact]
    public void Missing_columns_are_named_in_MLNET_wording()
    {
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options { LabelColumnName = "Target" })).Fit(Good()),
            "Could not find label column 'Target'");
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options { FeatureColumnName = "Pixels" })).Fit(Good()),
            "Could not find feature column 'Pixels'");
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.GroupDro(Options(new GroupDroTrainer.Options { GroupColumnName = "Place" })).Fit(Good()),
            "Could not find group column 'Place'");
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options { ExampleWeightColumnName = "W" })).Fit(Good()),
            "Could not find example weight column 'W'");
        var trainer = ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options { LabelColumnName = "Target" }));
        Fails<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(SchemaShapes.Of(Good().Schema)), "Could not find label column 'Target'");
    }

    [Fact]
    public void Wrong_column_types_are_named_with_what_was_expected()
    {
        var stringLabel = ml.Data.LoadFromEnumerable(BiasedShapes.Rows(16, 0.5, 42));
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(stringLabel),
            "Schema mismatch for label column 'Label': expected Key", "got String");
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).GetOutputSchema(SchemaShapes.Of(stringLabel.Schema)),
            "Schema mismatch for label column 'Label'");

        var variable = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(VariableRows())).Transform(ml.Data.LoadFromEnumerable(VariableRows()));
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(variable),
            "Schema mismatch for feature column 'Features': expected known-size vector of Single", "variable size");

        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options { ExampleWeightColumnName = "Group" })).Fit(Good()),
            "Schema mismatch for example weight column 'Group': expected Single or Double");
    }

    [Fact]
    public void A_feature_size_that_does_not_match_the_image_shape_is_named()
    {
        var options = Options(new ErmTrainer.Options { ImageShape = new ImageShape(3, 10, 10) });
        Fails<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(Good()),
            "feature column 'Features'", "300 values (ImageShape [3, 10, 10])", "got Vector<Single, 3, 12, 12>");
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void Non_finite_features_are_named_by_row_and_column(float bad)
    {
        var rows = BiasedShapes.Rows(16, 0.5, 43);
        rows[5].Features[17] = bad;
        Fails<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(BiasedShapes.ToDataView(ml, rows)),
            "Row 5", "feature column 'Features'", "index 17");
    }

    [Fact]
    public void A_label_with_one_class_and_an_empty_data_view_are_refused()
    {
        var oneClass = BiasedShapes.Rows(16, 0.5, 44);
        foreach (var row in oneClass) row.Label = "horizontal";
        Fails<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(BiasedShapes.ToDataView(ml, oneClass)),
            "label column 'Label' has only one class");

        var empty = ml.Data.FilterRowsByColumn(Good(), "Weight", lowerBound: 5, upperBound: 6);
        Fails<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(empty),
            "training data view has no rows");
    }

    [Fact]
    public void An_empty_data_view_through_MapValueToKey_is_named_as_having_no_rows()
    {
        // MapValueToKey fitted on no rows gives a label key with no values: the cause to report is the missing rows,
        // not the key type.
        var rows = ml.Data.LoadFromEnumerable(new List<BiasedShapes.Row>());
        var empty = ml.Transforms.Conversion.MapValueToKey("Label").Fit(rows).Transform(rows);
        Assert.Equal(1UL, ((KeyDataViewType)empty.Schema["Label"].Type).Count); // Key<UInt32, 0-0>: fewer than the two classes the label check asks for
        var e = Fails<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(empty),
            "training data view has no rows", "label column 'Label'");
        Assert.DoesNotContain("Schema mismatch", e.Message);
        Fails<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(Good(), empty),
            "validation data view has no rows");
    }

    [Fact]
    public void A_validation_group_the_training_column_does_not_know_is_named()
    {
        var validationRows = BiasedShapes.Groups(4, 45);
        validationRows[0].Group = "diagonal/blue";
        var options = Options(new GroupDroTrainer.Options { ModelSelection = ModelSelection.ValidationWorstGroupAccuracy });
        Fails<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.GroupDro(options).Fit(Good(), BiasedShapes.ToDataView(ml, validationRows)),
            "'diagonal/blue'", "column 'Group'");
    }

    [Fact]
    public void Options_out_of_range_are_named()
    {
        void Check(Action<FlatDebiasTrainer.Options> change, string option)
        {
            var options = Options(new FlatDebiasTrainer.Options());
            options.NumberOfEpochs = 3; // the default warm-up is 2 epochs
            change(options);
            var e = Fails<ArgumentException>(() => ml.MulticlassClassification.Trainers.FlatDebias(options).Fit(Good()), option);
            Assert.Equal(option, e.ParamName);
        }
        Check(o => o.NumberOfEpochs = 0, "NumberOfEpochs");
        Check(o => o.NumberOfEpochs = -3, "NumberOfEpochs");
        Check(o => o.BatchSize = 0, "BatchSize");
        Check(o => o.LearningRate = 0, "LearningRate");
        Check(o => o.LearningRate = -1e-3, "LearningRate");
        Check(o => o.LearningRate = double.NaN, "LearningRate");
        Check(o => o.TraceBound = -1, "TraceBound");
        Check(o => o.TraceBoundQuantile = 1.5, "TraceBoundQuantile");
        Check(o => o.DualLearningRate = 0, "DualLearningRate");
        Check(o => o.MaxDual = -1, "MaxDual");
        Check(o => o.Momentum = 1, "Momentum");
        Check(o => o.Network = (NetworkKind)17, "Network");
        Check(o => o.TopK = 0, "TopK");
        Check(o => { o.ViolationScale = ViolationScale.RelativeToBound; o.TraceBound = 0; }, "TraceBound");
        Check(o => { o.ViolationScale = ViolationScale.RelativeToMeanExcess; o.TraceBound = 2; }, "TraceBound");
        Check(o => { o.ViolationScale = ViolationScale.RelativeToMeanExcess; o.TraceBoundQuantile = 1; }, "TraceBoundQuantile");
        Check(o => o.ViolationScale = (ViolationScale)9, "ViolationScale");
        Check(o => o.NumberOfThreads = 0, "NumberOfThreads");
        Check(o => { o.NumberOfEpochs = 3; o.WarmupEpochs = 3; }, "WarmupEpochs");
        Check(o => { o.NumberOfEpochs = 3; o.WarmupEpochs = 2; }, "WarmupEpochs"); // no multiplier would ever act
        var dro = Options(new GroupDroTrainer.Options { GroupStepSize = -1 });
        Assert.Equal("GroupStepSize", Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.GroupDro(dro).Fit(Good())).ParamName);
        var noValidation = Options(new ErmTrainer.Options { ModelSelection = ModelSelection.ValidationAccuracy });
        Assert.Contains("needs a validation set", Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Erm(noValidation).Fit(Good())).Message);
    }

    [Fact]
    public void Scoring_data_without_the_feature_column_or_with_another_size_is_named()
    {
        using var model = ml.MulticlassClassification.Trainers.Erm(Options(new ErmTrainer.Options())).Fit(Good());
        var other = ml.Data.LoadFromEnumerable(VariableRows());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(ml.Data.LoadFromEnumerable(new[] { new { X = 1f } }.Select(x => new NoFeatures()))));
        Assert.Contains("Could not find feature column 'Features'", e.Message);
        var f = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(other));
        Assert.Contains("Schema mismatch for feature column 'Features': expected Vector<Single, 432>", f.Message);
    }

    private static IEnumerable<VariableRow> VariableRows()
        => BiasedShapes.Rows(8, 0.5, 46).Select(r => new VariableRow { Features = r.Features, Label = r.Label });

    private sealed class VariableRow
    {
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private sealed class NoFeatures
    {
        public float Other { get; set; }
    }
}
