using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The short version at the top of docs/own-photos.md (copied into the README), run as written: from a CSV of
/// relative image paths to a prediction with no using beyond <c>Microsoft.ML</c> and <c>MLNet.FlatDebias.Trainers</c>.
/// Only the folder, the image name and the epochs differ. This file names no other MLNet.FlatDebias namespace, so the
/// code cannot need one.</summary>
[Collection(TorchCollection.Name)]
public sealed class ReadmeExampleTests
{
    [Fact]
    public void The_own_photos_short_version_runs_as_written()
    {
        using var folder = new TempFolder("flatdebias-readme-photos");
        PhotoFolder.Write(folder.Combine("photos"));
        var previous = Directory.GetCurrentDirectory();
        var console = Console.Out;
        var printed = new StringWriter();
        Directory.SetCurrentDirectory(folder.Path);
        Console.SetOut(printed);
        try
        {
            // --- docs/own-photos.md, "The short version" (epochs 30 -> 3; the image name: the demo folder's) ---
            var ml = new MLContext();
            var csv = "photos/images.csv";                     // path,label,group,split; paths relative to the CSV's folder
            var all = ml.Data.LoadImageList(csv);              // ImagePath (full path), Label, Group, Split
            var labels = ml.Transforms.Conversion.MapValueToKey("Label").Fit(all);
            var preprocessing = ml.Transforms.ImageNetPreprocessing().Fit(all);
            var features = ml.Transforms.PretrainedFeatures(PretrainedWeightsSource.ImageNetResNet18).Fit(preprocessing.Transform(all));
            IDataView Split(string split) => ml.Data.Cache(features.Transform(preprocessing.Transform(labels.Transform(ml.Data.LoadImageList(csv, split: split)))));
            var (train, validation, test) = (Split("train"), Split("val"), Split("test"));

            using var model = ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
            {
                Network = NetworkKind.Linear,                  // one linear layer on the 512 features
                GroupColumnName = "Group",                     // validation only: picks the epoch by worst-group accuracy
                ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
                NumberOfEpochs = 3, Optimizer = OptimizerKind.Adam,
                Seed = 0,                                      // runs repeat by this seed, not by MLContext's
            }).Fit(train, validation);
            Console.WriteLine(ml.MulticlassClassification.EvaluateGroups(model.Transform(test)));

            var toText = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(model.Transform(test));
            ml.Model.Save(preprocessing.Append(features).Append(model).Append(toText), all.Schema, "photos.zip");

            // Scoring, here or on another machine: the image folder is set when the model is loaded.
            var scoring = new MLContext();
            var engine = scoring.Model.CreatePredictionEngine<Photo, Prediction>(scoring.Model.LoadWithImageFolder("photos.zip", "photos", out _));
            Console.WriteLine(engine.Predict(new Photo { ImagePath = "circle/circle_0017.png" }).PredictedLabel);
            // --- end of the short version ---

            var lines = printed.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Contains(lines, l => l.StartsWith("Worst group: ", StringComparison.Ordinal));
            Assert.Contains(lines[^1], new[] { "circle", "square" });
            Assert.True(new FileInfo("photos.zip").Length > 1_000_000);
        }
        finally
        {
            Console.SetOut(console);
            Directory.SetCurrentDirectory(previous);
        }
    }

    public sealed class Photo { public string ImagePath { get; set; } = ""; }

    public sealed class Prediction { public string PredictedLabel { get; set; } = ""; public float[] Score { get; set; } = []; }
}
