using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Tests.Transforms;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The user guide's "From image paths to a prediction" code (docs/user-guide.md), run as written on a small Waterbirds-format folder (only the
/// network, epochs, image size and file names differ), so the README cannot drift from the API: training, group
/// evaluation, the chain from image paths saved with the raw schema, and a PredictionEngine in a fresh MLContext that
/// gives every test image the in-memory model's label and scores.</summary>
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
            var preprocessing = ml.Transforms.ImageNetPreprocessing(resize: 36, crop: 32)
                .Fit(ml.Data.LoadWaterbirds(root));
            var train = preprocessing.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Train));
            var validation = preprocessing.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Validation));
            var test = preprocessing.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Test));

            var epochs = new List<EpochReport>();
            var trainer = ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
            {
                Network = NetworkKind.SmallCnn, NetworkWidth = 4,
                ImageShape = preprocessing.OutputShape,
                GroupColumnName = "Group",
                ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
                NumberOfEpochs = 3, BatchSize = 8, LearningRate = 1e-3,
                CheckpointDirectory = "checkpoints",
                Progress = new SynchronousProgress<EpochReport>(epochs.Add),
                Device = TrainingDevice.Cpu,
            });
            using var model = trainer.Fit(train, validation);

            var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(test),
                groupWeights: ml.MulticlassClassification.ComputeGroupWeights(train));
            Assert.Contains("Worst group", metrics.ToString());
            Assert.Equal(4, metrics.ByGroup.Count);
            Assert.NotNull(metrics.AdjustedAverageAccuracy);

            var keyToText = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(model.Transform(test));
            var chain = preprocessing.Append(model).Append(keyToText);
            ml.Model.Save(chain, ml.Data.LoadWaterbirds(root).Schema, "flatdebias.zip");
            using (var onnx = File.Create("flatdebias.onnx")) model.ExportOnnx(onnx);

            var scoring = new MLContext();
            var engine = scoring.Model.CreatePredictionEngine<BirdImage, BirdPrediction>(scoring.Model.Load("flatdebias.zip", out _));
            var testRows = ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Test);
            var paths = testRows.GetColumn<string>("ImagePath").ToArray();
            var bird = engine.Predict(new BirdImage { ImagePath = paths[0] });

            // The README's printed line; the label is one of the label's values, the score a probability.
            Assert.Contains(bird.PredictedLabel, new[] { "landbird", "waterbird" });
            Assert.InRange(bird.Score.Max(), 0.5f, 1f);
            Assert.Contains(epochs, e => e.ToString().StartsWith("epoch 3/3  loss ", StringComparison.Ordinal));

            Assert.True(new FileInfo("flatdebias.onnx").Length > 1000);
            Assert.Equal(3, epochs.Count);
            Assert.Equal(2, Directory.GetFiles("checkpoints", "*.fdck").Length); // the newest two are kept

            // Every test image path, scored one by one after loading, gets the label and scores of the in-memory model.
            var inMemory = model.Transform(test);
            var expectedKeys = inMemory.GetColumn<uint>("PredictedLabel").ToArray();
            var expectedScores = inMemory.GetColumn<float[]>("Score").ToArray();
            var labelNames = new[] { "landbird", "waterbird" };
            for (int i = 0; i < paths.Length; i++)
            {
                var p = engine.Predict(new BirdImage { ImagePath = paths[i] });
                Assert.Equal(labelNames[expectedKeys[i] - 1], p.PredictedLabel); // keys count from 1
                for (int c = 0; c < 2; c++)
                    Assert.True(Math.Abs(expectedScores[i][c] - p.Score[c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}");
            }
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    [Fact]
    public void The_readme_frozen_backbone_pipeline_runs_end_to_end_and_reuses_its_feature_files()
    {
        using var folder = new TempFolder();
        var root = folder.Combine("waterbird_complete95_forest2water2");
        WaterbirdsFolderBuilder.Write(root, perGroup: 4, size: 64);
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(folder.Path);
        try
        {
            // As in the README (only the epochs and batch size differ).
            var ml = new MLContext(seed: 0);
            var all = ml.Data.LoadWaterbirds(root);
            var preprocessing = ml.Transforms.ImageNetPreprocessing().Fit(all);
            using var backbone = FeatureBackbone.ImageNetResNet18();
            var features = ml.Transforms.PretrainedFeatures(backbone).Fit(preprocessing.Transform(all));

            var made = new List<FeatureFileResult>();
            IDataView Extract(WaterbirdsSplit split)
            {
                var raw = ml.Data.LoadWaterbirds(root, split);
                var key = new FeatureFileKey(FeatureFileKey.DescribeDataset(ml, raw), preprocessing.Description, features.BackboneFingerprint);
                var file = FeatureFile.LoadOrCreate(ml, preprocessing.Transform(raw), features, $"features/{split}.idv", key);
                made.Add(file);
                return file.Data;
            }
            var train = Extract(WaterbirdsSplit.Train);
            var validation = Extract(WaterbirdsSplit.Validation);
            var test = Extract(WaterbirdsSplit.Test);

            var trainer = ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
            {
                Network = NetworkKind.Linear,
                GroupColumnName = "Group",
                ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
                NumberOfEpochs = 4, BatchSize = 8,
                Device = TrainingDevice.Cpu,
            });
            using var model = trainer.Fit(train, validation);
            Assert.IsType<LinearClassifier>(model.Network);
            Assert.Equal(512, (int)model.Network.FeatureDimension);
            var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(test));
            Assert.Equal(4, metrics.ByGroup.Count);

            ml.Model.Save(preprocessing.Append(features).Append(model), all.Schema, "flatdebias-frozen.zip");
            Assert.All(made, m => Assert.False(m.Reused));
            Assert.True(FeatureFile.LoadOrCreate(ml, preprocessing.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Test)), features,
                "features/Test.idv", new FeatureFileKey(FeatureFileKey.DescribeDataset(ml, ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Test)),
                    preprocessing.Description, features.BackboneFingerprint)).Reused);

            // The saved chain takes image paths and gives the in-memory model's scores on the cached features.
            var loaded = new MLContext().Model.Load("flatdebias-frozen.zip", out var schema);
            Assert.NotNull(schema.GetColumnOrNull("ImagePath"));
            var fromPaths = loaded.Transform(ml.Data.LoadWaterbirds(root, WaterbirdsSplit.Test)).GetColumn<float[]>("Score").ToArray();
            var fromFeatures = model.Transform(test).GetColumn<float[]>("Score").ToArray();
            Assert.Equal(fromFeatures.Length, fromPaths.Length);
            for (int i = 0; i < fromPaths.Length; i++)
                for (int c = 0; c < 2; c++)
                    Assert.True(Math.Abs(fromFeatures[i][c] - fromPaths[i][c]) <= Tolerance.OnnxVsTorchProbability, $"row {i} class {c}");
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    public sealed class BirdImage { public string ImagePath { get; set; } = ""; }

    public sealed class BirdPrediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }
}
