using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;

namespace MLNet.FlatDebias.Tests.Trainers;

[Collection(TorchCollection.Name)]
public sealed class PersistenceTests
{
    public static TheoryData<NetworkKind> Kinds => new() { NetworkKind.SmallCnn, NetworkKind.Mlp, NetworkKind.ResNet18 };

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Saved_model_moved_and_loaded_in_a_fresh_context_scores_and_evaluates_identically(NetworkKind kind)
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(96, 0.7, 21));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(15, 22));
        var options = new ErmTrainer.Options
        {
            Network = kind, NetworkWidth = 4, NumberOfEpochs = 2, BatchSize = 16, LearningRate = 3e-3,
            Optimizer = OptimizerKind.Adam, Seed = 3, Device = TrainingDevice.Cpu,
        };
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(train);
        var before = model.Transform(test);
        var scoresBefore = before.GetColumn<float[]>("Score").ToArray();
        var labelsBefore = before.GetColumn<uint>("PredictedLabel").ToArray();
        var metricsBefore = ml.MulticlassClassification.Evaluate(before);
        var groupsBefore = ml.MulticlassClassification.EvaluateGroups(before);

        // The scores equal TorchSharp's own evaluation-mode softmax.
        var torchScores = TorchScores(model, test);
        for (int i = 0; i < scoresBefore.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.Equal(torchScores[i][c], scoresBefore[i][c], Tolerance.OnnxVsTorchProbability);

        using var folder = new TempFolder();
        var first = Path.Combine(folder.Path, "a", "model.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(first)!);
        ml.Model.Save(model, train.Schema, first);
        var moved = Path.Combine(folder.Path, "b", "moved.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(moved)!);
        File.Move(first, moved);
        Directory.Delete(Path.GetDirectoryName(first)!, true);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(moved)!)); // nothing beside the zip

        var fresh = new MLContext(seed: 123);
        var loaded = fresh.Model.Load(moved, out var inputSchema);
        Assert.NotNull(inputSchema);
        var after = loaded.Transform(BiasedShapes.ToDataView(fresh, BiasedShapes.Groups(15, 22)));
        var scoresAfter = after.GetColumn<float[]>("Score").ToArray();
        Assert.Equal(labelsBefore, after.GetColumn<uint>("PredictedLabel").ToArray());
        for (int i = 0; i < scoresBefore.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(scoresBefore[i][c] - scoresAfter[i][c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}");

        var metricsAfter = fresh.MulticlassClassification.Evaluate(after);
        Assert.Equal(metricsBefore.MicroAccuracy, metricsAfter.MicroAccuracy);
        Assert.Equal(metricsBefore.LogLoss, metricsAfter.LogLoss, 1e-6); // the same ONNX graph on the same rows; one changed score would move it by more
        var groupsAfter = fresh.MulticlassClassification.EvaluateGroups(after);
        Assert.Equal(groupsBefore.WorstGroupAccuracy, groupsAfter.WorstGroupAccuracy);

        var text = fresh.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel").Fit(after).Transform(after)
            .GetColumn<string>("PredictedText").ToArray();
        Assert.Equal(labelsBefore.Select(k => BiasedShapes.Labels[k - 1]), text);

        var engine = fresh.Model.CreatePredictionEngine<BiasedShapes.Row, Prediction>(loaded);
        var row = BiasedShapes.Groups(15, 22)[0];
        var prediction = engine.Predict(row);
        Assert.Equal(labelsBefore[0], prediction.PredictedLabel);
        Assert.Equal(scoresBefore[0], prediction.Score);
    }

    [Fact]
    public void Exported_onnx_imports_back_to_the_same_weights()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.7, 23));
        var options = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 1, Seed = 4, Device = TrainingDevice.Cpu,
        };
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(train);
        var stream = new MemoryStream();
        model.ExportOnnx(stream);
        stream.Position = 0;
        using var imported = OnnxImport.LoadNetwork(stream);
        var expected = model.Network.state_dict();
        foreach (var (name, tensor) in imported.state_dict())
            Assert.True(tensor.Identical(expected[name]), name);
    }

    [Fact]
    public void A_saved_onnx_model_and_the_ImageNet_ResNet18_serve_as_starting_weights()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.7, 24));
        var options = new ErmTrainer.Options { Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 1, Seed = 4, Device = TrainingDevice.Cpu };
        using var first = ml.MulticlassClassification.Trainers.Erm(options).Fit(train);
        using var folder = new TempFolder();
        var onnx = Path.Combine(folder.Path, "first.onnx");
        using (var stream = File.Create(onnx)) first.ExportOnnx(stream);

        // Fine-tuning with a learning rate too small to move the weights: they start where the export left them.
        var again = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 1, Seed = 77, Device = TrainingDevice.Cpu,
            PretrainedWeightsPath = onnx, LearningRate = 1e-30, WeightDecay = 0, Momentum = 0,
        };
        using var second = ml.MulticlassClassification.Trainers.Erm(again).Fit(train);
        var expected = first.Network.state_dict();
        foreach (var (name, tensor) in second.Network.state_dict().Where(kv => !kv.Key.Contains("running") && !kv.Key.Contains("num_batches")))
            Assert.True(tensor.Identical(expected[name]), name);

        var imageNet = new ErmTrainer.Options
        {
            Network = NetworkKind.ResNet18, PretrainedWeights = PretrainedWeightsSource.ImageNetResNet18, NumberOfEpochs = 1, BatchSize = 16,
            Seed = 1, Device = TrainingDevice.Cpu, LearningRate = 1e-30, WeightDecay = 0, Momentum = 0, ImageShape = new ImageShape(3, 32, 32),
        };
        var rows = BiasedShapes.Rows(16, 0.7, 25);
        var upsized = rows.Select(r => new Flat { Features = Upsize(r.Features), Label = r.Label }).ToList();
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(upsized)).Transform(ml.Data.LoadFromEnumerable(upsized));
        using var pretrained = ml.MulticlassClassification.Trainers.Erm(imageNet).Fit(data);
        using var reference = ImageNetResNet18.Create(2, inputShape: new ImageShape(3, 32, 32));
        var referenceState = reference.state_dict();
        var state = pretrained.Network.state_dict();
        Assert.Equal(referenceState.Keys.Order(), state.Keys.Order());
        Assert.True(state["layer4.2.conv2.weight"].Identical(referenceState["layer4.2.conv2.weight"]), "the ImageNet weights were not loaded");
    }

    private static float[] Upsize(float[] image)
    {
        const int S = BiasedShapes.Size;
        var result = new float[3 * 32 * 32];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    result[(c * 32 + y) * 32 + x] = image[(c * S + y * S / 32) * S + x * S / 32];
        return result;
    }

    private sealed class Flat
    {
        [VectorType(3 * 32 * 32)]
        public float[] Features { get; set; } = [];

        public string Label { get; set; } = "";
    }

    private static float[][] TorchScores(ClassifierNetworkTransformer model, IDataView data)
    {
        var features = data.GetColumn<float[]>("Features").ToArray();
        var shape = model.Network.InputShape;
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var x = TorchSharp.torch.tensor(features.SelectMany(f => f).ToArray(), [features.Length, shape.Channels, shape.Height, shape.Width]);
        model.Network.eval();
        var p = TorchSharp.torch.nn.functional.softmax(model.Network.forward(x), 1);
        return Enumerable.Range(0, features.Length).Select(i => p[i].data<float>().ToArray()).ToArray();
    }

    private sealed class Prediction
    {
        public float[] Score { get; set; } = [];

        public uint PredictedLabel { get; set; }
    }
}
