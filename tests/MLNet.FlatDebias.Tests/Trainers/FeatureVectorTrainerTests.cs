using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// Every trainer on a one-dimensional feature vector column (as a frozen pretrained network's features come) with the
/// Linear and Mlp networks and no ImageShape: it fits, scores with TorchSharp's probabilities, evaluates, saves and
/// loads; GroupDRO and DFR raise a linear model's worst-group accuracy above ERM's on the in-test biased set; the
/// convolutional networks still ask for an image shape, naming the column.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class FeatureVectorTrainerTests(ITestOutputHelper output)
{
    /// <summary>
    /// Probabilities from the model's ML.NET chain (ONNX Runtime) against the network's own TorchSharp softmax, and
    /// before against after Save/Load (the same ONNX graph on the same rows, identical in practice): float32 kernels
    /// with other summation orders differ by about 1e-7; a wrong weight, reshape or class order moves them by far more.
    /// </summary>
    private static readonly double ScoreTolerance = Tolerance.OnnxVsTorchProbability;

    public static TheoryData<string, NetworkKind> Cases()
    {
        var data = new TheoryData<string, NetworkKind>();
        foreach (var trainer in new[] { "Erm", "GroupDro", "FlatDebias", "Jtt", "Pgd", "Lff", "Dfr" })
            foreach (var network in new[] { NetworkKind.Linear, NetworkKind.Mlp })
                data.Add(trainer, network);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Trainer_fits_a_flat_feature_vector_without_ImageShape_and_scores_evaluates_saves_and_loads(string trainer, NetworkKind network)
    {
        var ml = new MLContext(0);
        var train = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Rows(400, 0.95, 1));
        var validation = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(25, 2));
        var testRows = BiasedFeatureVectors.Groups(50, 3);
        var test = BiasedFeatureVectors.ToDataView(ml, testRows);
        var column = Assert.IsType<VectorDataViewType>(train.Schema["Features"].Type);
        Assert.Equal([BiasedFeatureVectors.Size], column.Dimensions.ToArray()); // one dimension: no image shape in the column

        using var model = Fit(ml, trainer, network, train, validation, ModelSelection.ValidationWorstGroupAccuracy);

        Assert.IsType(network == NetworkKind.Linear ? typeof(LinearClassifier) : typeof(Mlp), model.Network);
        Assert.Equal(new ImageShape(BiasedFeatureVectors.Size, 1, 1), model.Network.InputShape);
        Assert.Empty(model.History.Warnings); // no off-design-size warning for the flattening networks
        if (trainer == "Dfr") Assert.NotNull(model.History.Dfr);

        var scored = model.Transform(test);
        var scores = scored.GetColumn<float[]>("Score").ToArray();
        Assert.All(scores, s => Assert.Equal(2, s.Length));
        var torchScores = TorchScores(model.Network, testRows);
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(torchScores[i][c] - scores[i][c]) <= ScoreTolerance, $"row {i} class {c}: ML.NET {scores[i][c]}, TorchSharp {torchScores[i][c]}");

        var metrics = ml.MulticlassClassification.Evaluate(scored);
        var groups = ml.MulticlassClassification.EvaluateGroups(scored);
        output.WriteLine($"{trainer} {network}: accuracy {metrics.MicroAccuracy:F3}, " + string.Join("; ", groups.ByGroup.Select(g => $"{g.Name} {g.Accuracy:F3}")));
        Assert.Equal(4, groups.ByGroup.Count);
        // The rows where the attribute agrees with the label: every model gets 0.7 or more of them on average over the two
        // such groups (measured: GroupDRO's linear model lowest, at 0.76, since group-balanced sampling trades majority
        // accuracy for the minority groups'; most 0.96-1.0); well above chance (0.5), and a model that did not train, or
        // scored with its classes swapped, is far below it.
        double majorityMean = new[] { "cat/indoor", "dog/outdoor" }.Average(name => groups.ByGroup.Single(g => g.Name == name).Accuracy);
        Assert.True(majorityMean >= 0.7, $"majority groups' mean accuracy {majorityMean}");

        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "model.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext(seed: 7);
        var loaded = fresh.Model.Load(path, out _);
        var after = loaded.Transform(BiasedFeatureVectors.ToDataView(fresh, testRows));
        var scoresAfter = after.GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(scores[i][c] - scoresAfter[i][c]) <= ScoreTolerance, $"row {i} class {c} after Save/Load");
        Assert.Equal(scored.GetColumn<uint>("PredictedLabel").ToArray(), after.GetColumn<uint>("PredictedLabel").ToArray());
        Assert.Equal(groups.WorstGroupAccuracy, fresh.MulticlassClassification.EvaluateGroups(after).WorstGroupAccuracy);
    }

    [Fact]
    public void GroupDro_and_Dfr_raise_a_linear_models_worst_group_accuracy_above_erms()
    {
        var ml = new MLContext(0);
        var train = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Rows(400, 0.95, 11));
        var heldOut = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(25, 12));
        var test = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(50, 13));
        double Worst(ITransformer model) => ml.MulticlassClassification.EvaluateGroups(model.Transform(test)).WorstGroupAccuracy;

        var ermOptions = Small(new ErmTrainer.Options(), NetworkKind.Linear, validation: null, ModelSelection.LastEpoch, epochs: 8);
        using var erm = ml.MulticlassClassification.Trainers.Erm(ermOptions).Fit(train);
        var droOptions = Small(new GroupDroTrainer.Options { GroupStepSize = 1 }, NetworkKind.Linear, validation: null, ModelSelection.LastEpoch, epochs: 8);
        using var dro = ml.MulticlassClassification.Trainers.GroupDro(droOptions).Fit(train);
        using var dfr = ml.MulticlassClassification.Trainers.Dfr(erm, new DfrTrainer.Options { NumberOfRetrains = 5, Seed = 1 }).Fit(heldOut);

        double ermWorst = Worst(erm), droWorst = Worst(dro), dfrWorst = Worst(dfr);
        output.WriteLine($"worst-group accuracy: ERM {ermWorst:F3}, GroupDRO {droWorst:F3}, DFR {dfrWorst:F3}");
        // Measured on three draws of the set (seeds 1x, 2x, 3x): ERM 0.28-0.34 (it leans on the clean attribute),
        // GroupDRO 0.56-0.66, DFR 0.72-0.82 (a balanced logistic regression on the raw features, near the label
        // feature's own 0.89). The margins are half the smallest gap seen.
        Assert.True(droWorst >= ermWorst + 0.1, $"GroupDRO {droWorst} vs ERM {ermWorst}");
        Assert.True(dfrWorst >= ermWorst + 0.2, $"DFR {dfrWorst} vs ERM {ermWorst}");
    }

    [Theory]
    [InlineData(NetworkKind.SmallCnn)]
    [InlineData(NetworkKind.ResNet18)]
    public void A_convolutional_network_given_a_feature_vector_asks_for_ImageShape_naming_the_column(NetworkKind network)
    {
        var ml = new MLContext(0);
        var data = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Rows(32, 0.9, 4));
        var renamed = ml.Transforms.CopyColumns("Embedding", "Features").Fit(data).Transform(data);
        var options = Small(new ErmTrainer.Options { FeatureColumnName = "Embedding" }, network, validation: null, ModelSelection.LastEpoch);

        var e = Assert.Throws<ArgumentException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(renamed));
        Assert.Equal("ImageShape", e.ParamName);
        Assert.Contains("'Embedding'", e.Message);
        Assert.Contains("flat vector of 32 values", e.Message);
        Assert.Contains("Mlp or Linear", e.Message);
    }

    [Fact]
    public void ImageShape_when_set_still_shapes_a_flat_vector_for_the_linear_network()
    {
        var ml = new MLContext(0);
        var rows = BiasedFeatureVectors.Rows(64, 0.9, 5);
        var options = Small(new ErmTrainer.Options { ImageShape = new ImageShape(2, 4, 4) }, NetworkKind.Linear, validation: null, ModelSelection.LastEpoch, epochs: 1);
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(BiasedFeatureVectors.ToDataView(ml, rows));
        Assert.Equal(new ImageShape(2, 4, 4), model.Network.InputShape);
        var scores = model.Transform(BiasedFeatureVectors.ToDataView(ml, rows)).GetColumn<float[]>("Score").ToArray();
        var torchScores = TorchScores(model.Network, rows);
        for (int i = 0; i < scores.Length; i++)
            Assert.True(Math.Abs(torchScores[i][1] - scores[i][1]) <= ScoreTolerance, $"row {i}");
    }

    private static T Small<T>(T options, NetworkKind network, IDataView? validation, ModelSelection selection, int epochs = 4) where T : NetworkTrainerOptions
    {
        options.Network = network;
        options.NetworkWidth = 16; // the Mlp's hidden width; the Linear network has none
        options.NumberOfEpochs = epochs;
        options.BatchSize = 32;
        options.LearningRate = 1e-2;
        options.Optimizer = OptimizerKind.Adam;
        options.Seed = 1;
        options.Device = TrainingDevice.Cpu;
        options.GroupColumnName = "Group";
        options.ValidationSet = validation;
        options.ModelSelection = selection;
        return options;
    }

    private static ClassifierNetworkTransformer Fit(MLContext ml, string trainer, NetworkKind network, IDataView train, IDataView validation, ModelSelection selection)
    {
        var t = ml.MulticlassClassification.Trainers;
        switch (trainer)
        {
            case "Erm": return t.Erm(Small(new ErmTrainer.Options(), network, validation, selection)).Fit(train);
            case "GroupDro": return t.GroupDro(Small(new GroupDroTrainer.Options { GroupStepSize = 0.1 }, network, validation, selection)).Fit(train);
            case "FlatDebias": return t.FlatDebias(Small(new FlatDebiasTrainer.Options { WarmupEpochs = 1 }, network, validation, selection)).Fit(train);
            case "Jtt": return t.Jtt(Small(new JttTrainer.Options { FirstStageEpochs = 1 }, network, validation, selection)).Fit(train);
            case "Pgd": return t.Pgd(Small(new PgdTrainer.Options { FirstStageEpochs = 1 }, network, validation, selection)).Fit(train);
            case "Lff": return t.Lff(Small(new LffTrainer.Options(), network, validation, selection)).Fit(train);
            case "Dfr":
                using (var erm = t.Erm(Small(new ErmTrainer.Options(), network, validation, selection)).Fit(train))
                    return t.Dfr(erm, new DfrTrainer.Options { NumberOfRetrains = 5, Seed = 1 }).Fit(validation);
            default: throw new ArgumentOutOfRangeException(nameof(trainer), trainer, "unknown trainer");
        }
    }

    /// <summary>The network's evaluation-mode softmax on the rows, computed by TorchSharp.</summary>
    private static float[][] TorchScores(ClassifierNetwork network, IReadOnlyList<BiasedFeatureVectors.Row> rows)
    {
        var shape = network.InputShape;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var x = tensor(rows.SelectMany(r => r.Features).ToArray(), [rows.Count, shape.Channels, shape.Height, shape.Width]);
        network.eval();
        var p = nn.functional.softmax(network.call(x), 1);
        return Enumerable.Range(0, rows.Count).Select(i => p[i].data<float>().ToArray()).ToArray();
    }
}
