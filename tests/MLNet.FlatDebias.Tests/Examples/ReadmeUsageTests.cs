using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Tests.Transforms;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The README's "Using the library" code, run as written on a small Waterbirds-format folder (only the
/// network, epochs, image size and file names differ), so the README cannot drift from the API.</summary>
[Collection(TorchCollection.Name)]
public sealed class ReadmeUsageTests
{
    [Fact]
    public void The_readme_pipeline_runs_end_to_end()
    {
        using var folder = new TempFolder();
        var root = folder.Combine("waterbird_complete95_forest2water2");
        WaterbirdsFolderBuilder.Write(root, perGroup: 6, size: 40);
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(folder.Path);
        try
        {
            var ml = new MLContext(seed: 0);
            var preprocessing = ml.Transforms.ImageNetPreprocessing(resize: 36, crop: 32);
            var fitted = preprocessing.Fit(ml.Data.LoadWaterbirds(root));
            var train = fitted.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Train));
            var validation = fitted.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Validation));
            var test = fitted.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Test));

            var epochs = new List<EpochReport>();
            var trainer = ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
            {
                Network = NetworkKind.SmallCnn, NetworkWidth = 4,
                ImageShape = fitted.OutputShape,
                GroupColumnName = "Group",
                ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
                NumberOfEpochs = 3, BatchSize = 8, LearningRate = 1e-3,
                CheckpointDirectory = "checkpoints", Progress = new SynchronousProgress<EpochReport>(epochs.Add),
                Device = TrainingDevice.Cpu,
            });
            using var model = trainer.Fit(train, validation);

            var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(test),
                groupWeights: ml.MulticlassClassification.ComputeGroupWeights(train));
            Assert.Contains("Worst group", metrics.ToString());
            Assert.Equal(4, metrics.ByGroup.Count);
            Assert.NotNull(metrics.AdjustedAverageAccuracy);

            ml.Model.Save(model, train.Schema, "flatdebias.zip");
            using (var onnx = File.Create("flatdebias.onnx")) model.ExportOnnx(onnx);
            Assert.True(new FileInfo("flatdebias.onnx").Length > 1000);
            Assert.Equal(3, epochs.Count);
            Assert.Equal(2, Directory.GetFiles("checkpoints", "*.fdck").Length); // the newest two are kept
            var reloaded = new MLContext().Model.Load("flatdebias.zip", out _);
            Assert.Equal(metrics.Overall.MicroAccuracy, new MLContext().MulticlassClassification.Evaluate(reloaded.Transform(test)).MicroAccuracy, Tolerance.CountRatio); // the same predictions counted twice
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }
}
