using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;
using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Examples.OwnPhotos;

/// <summary>
/// The recipe of <c>docs/own-photos.md</c> on a folder of your photos: a CSV of relative paths read with
/// <c>LoadImageList</c>, the label mapped to a key, <c>ImageNetPreprocessing</c>, the built-in ImageNet ResNet-18
/// (<c>PretrainedFeatures(PretrainedWeightsSource.ImageNetResNet18)</c>), a feature file per split, a Linear head
/// (FlatDebias, or ERM then DFR), <c>EvaluateGroups</c>, a saved chain from image path to label, and that chain loaded
/// with another image folder (<c>LoadWithImageFolder</c>) scoring the test images copied there. The code of each step is
/// the document's, with progress lines added.
/// </summary>
public static class OwnPhotosExample
{
    /// <summary>The results file's name in the output folder.</summary>
    public const string ResultsFile = "results.json";

    /// <summary>The saved chain's name in the output folder.</summary>
    public const string ModelFile = "own-photos.zip";

    /// <summary>Held-out rows per group under which DFR gets one C instead of choosing one on a tuning split (each half
    /// needs rows of every group; with 10 or more per group a 50/50 split leaves one empty with probability under 0.2 %).</summary>
    public const int DfrTuningRowsPerGroup = 10;

    /// <summary>Runs the program.</summary>
    /// <param name="args">The command line (<c>--help</c> lists it).</param>
    /// <param name="output">Where the tables and progress go.</param>
    /// <param name="error">Where one-line errors go; null for <paramref name="output"/>.</param>
    /// <returns>0 on success, 1 when the run failed, 2 for a bad command line.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var command = new OwnPhotosCommand();
        return CommandLineHost.Run(command.Create(), args, output, error ?? output, parsed =>
        {
            Execute(command.Resolve(parsed), new TrainingConsole(output));
            return CommandLineHost.Success;
        });
    }

    /// <summary>The recipe with resolved settings.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="console">Where the output goes.</param>
    /// <returns>The results (also written to the output folder).</returns>
    public static OwnPhotosResults Execute(OwnPhotosSettings settings, TrainingConsole console)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(settings.OutputFolder);
        bool demo = settings.CsvPath is null;
        var csvPath = settings.CsvPath ?? DemoFolder(settings);
        var imageFolder = settings.ImageFolder;                       // null: the CSV's folder
        string[] splits = [settings.TrainSplit, settings.ValidationSplit, settings.TestSplit];
        var featureFolder = settings.FeatureFolder;
        console.Line($"Own photos: {csvPath}{(demo ? " (the example's demo folder)" : "")}");

        // 1. The image list: ImagePath (the full path), Label and Group (text, as written), Split.
        var ml = new MLContext();                                     // no seed here: the trainers' Options.Seed decides
        var all = ml.Data.LoadImageList(csvPath, imageFolder);
        IDataView Rows(string split) => ml.Data.LoadImageList(csvPath, imageFolder, split);
        var rows = splits.ToDictionary(s => s, s => Rows(s).GetColumn<string>("ImagePath").Count());
        console.Line($"  rows: {string.Join(", ", rows.Select(r => $"{r.Key} {r.Value}"))}");

        // 2. The label as a key (the trainers take a key label), fitted on every row and kept out of the saved chain.
        var labelKeys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(all);

        // 3. Pixels (resize 256, centre crop 224, ImageNet mean and std), then 512 features per image from the
        //    built-in ImageNet ResNet-18 (package Microsoft.ML.DnnImageFeaturizer.ResNet18, version 0.24.0).
        var preprocessing = ml.Transforms.ImageNetPreprocessing().Fit(all);
        var features = ml.Transforms.PretrainedFeatures(PretrainedWeightsSource.ImageNetResNet18).Fit(preprocessing.Transform(all));
        console.Line($"  backbone: {features.BackboneName}, {features.FeatureDimension} features per image; feature files in {featureFolder}");

        // 4. Every image through the backbone once, kept in a feature file per split; a later run with the same rows,
        //    image files, preprocessing and backbone loads it, and any change makes it again (Reason says what changed).
        FeatureFileResult Extract(string split)
        {
            var raw = Rows(split);
            var key = new FeatureFileKey(FeatureFileKey.DescribeDataset(ml, raw), preprocessing.Description, features.BackboneFingerprint);
            var images = preprocessing.Transform(labelKeys.Transform(raw));
            return FeatureFile.LoadOrCreate(ml, images, features, Path.Combine(featureFolder, split + ".idv"), key);
        }
        var files = new List<FeatureFileSummary>();
        var data = new List<IDataView>();
        foreach (var split in splits)
        {
            var file = Extract(split);
            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"  features {split}: {(file.Reused ? "reused" : "made")} {file.Path} ({file.Seconds:F1} s){(file.Reused ? "" : $"; {file.Reason}")}"));
            files.Add(new FeatureFileSummary(split, file.Path, file.Reused, file.Reason));
            data.Add(file.Data);
        }
        var (train, validation, test) = (data[0], data[1], data[2]);
        console.Line();

        // 5. A Linear head on the features: FlatDebias (groups only in validation, to choose the epoch), or ERM then DFR
        //    (its last layer re-fitted on validation's groups: Dfr(model).Fit(heldOut), one data view).
        ClassifierNetworkTransformer Head(IProgress<EpochReport> progress)
        {
            if (settings.Method == OwnPhotosMethod.FlatDebias)
            {
                return ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
                {
                    Network = NetworkKind.Linear,                     // one linear layer on the 512 features
                    GroupColumnName = "Group",                        // validation only: FlatDebias never trains on groups
                    ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
                    NumberOfEpochs = settings.Epochs, BatchSize = settings.BatchSize,
                    Optimizer = OptimizerKind.Adam, LearningRate = 1e-3,
                    Seed = settings.Seed,                             // this, not the MLContext's seed, makes a run repeat
                    Device = settings.Device,
                    Progress = progress,                              // one line per epoch: "epoch 2/5  loss 0.7387  trace 550 (bound 918, active 25.0 %) ..."
                }).Fit(train, validation);
            }
            using var erm = ml.MulticlassClassification.Trainers.Erm(new ErmTrainer.Options
            {
                Network = NetworkKind.Linear,
                GroupColumnName = "Group",
                ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
                NumberOfEpochs = settings.Epochs, BatchSize = settings.BatchSize,
                Optimizer = OptimizerKind.Adam, LearningRate = 1e-3,
                Seed = settings.Seed,
                Device = settings.Device,
                Progress = progress,
            }).Fit(train, validation);
            // DFR picks its L1 strength C on half of the held-out rows; with few rows per group, give it one C (no tuning split).
            var dfr = new DfrTrainer.Options { Seed = settings.Seed };
            if (validation.GetColumn<string>("Group").CountBy(g => g).Min(g => g.Value) < DfrTuningRowsPerGroup) dfr.InverseRegularizationValues = [1.0];
            return ml.MulticlassClassification.Trainers.Dfr(erm, dfr).Fit(validation);
        }
        using var model = console.Train(settings.Method.ToString(), settings.Epochs, (epochs, _) => Head(epochs));
        console.Line();

        // 6. Accuracy of every group on test.
        var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(test));
        console.Line(metrics.ToString());

        // 7. One chain from an image path to a label: preprocessing, backbone, head, and the predicted key back to its
        //    text. Saved with the raw rows' schema, so it takes image paths. From LoadImageList's full paths it keeps no
        //    image folder.
        var toText = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(model.Transform(test));
        var modelPath = Path.Combine(settings.OutputFolder, ModelFile);
        ml.Model.Save(preprocessing.Append(features).Append(model).Append(toText), all.Schema, modelPath);
        var savedFolders = ml.Model.GetImageFolders(ml.Model.Load(modelPath, out _));
        console.Line($"Saved {modelPath}; its image folder: {string.Join(", ", savedFolders.Select(f => f ?? "none (paths as given)"))}");

        // 8. Scoring on another machine: the test images in another folder, the saved chain loaded with that folder,
        //    paths relative to it.
        var folder = Path.GetFullPath(imageFolder ?? Path.GetDirectoryName(csvPath)!);
        var testPaths = Rows(settings.TestSplit).GetColumn<string>("ImagePath").Select(p => Path.GetRelativePath(folder, p)).ToList();
        foreach (var path in testPaths)
        {
            var target = Path.Combine(settings.DeployFolder, path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(folder, path), target, overwrite: true);
        }
        var scoring = new MLContext();
        var loaded = scoring.Model.LoadWithImageFolder(modelPath, settings.DeployFolder, out _);
        var engine = scoring.Model.CreatePredictionEngine<Photo, PhotoPrediction>(loaded);
        var predicted = testPaths.Select(path => engine.Predict(new Photo { ImagePath = path }).PredictedLabel).ToList();

        var expected = toText.Transform(model.Transform(test)).GetColumn<string>("PredictedLabel").ToList();
        int same = predicted.Zip(expected).Count(p => p.First == p.Second);
        var example = $"{testPaths[0]} -> {predicted[0]}";
        console.Line($"Scored {predicted.Count} test images from {settings.DeployFolder} (relative paths): {same} of {predicted.Count} labels as in memory; e.g. {example}");

        var results = new OwnPhotosResults(csvPath, folder, demo, settings.Method, rows, files, metrics.AverageAccuracy, metrics.WorstGroupAccuracy,
            [.. metrics.ByGroup.Select(g => new GroupSummary(g.Name, g.RowCount, g.Accuracy))], modelPath, savedFolders,
            new ScoringSummary(settings.DeployFolder, predicted.Count, same, example), clock.Elapsed.TotalSeconds);
        ExperimentFiles.WriteJson(Path.Combine(settings.OutputFolder, ResultsFile), results);
        console.Line(string.Create(CultureInfo.InvariantCulture, $"Wrote {ResultsFile} and {ModelFile} to {settings.OutputFolder} ({clock.Elapsed.TotalSeconds:F1} s)."));
        return results;
    }

    /// <summary>The demo folder's CSV under the output folder, drawn on the first run of a setting and kept (so that a
    /// second run reuses its feature files).</summary>
    private static string DemoFolder(OwnPhotosSettings settings)
    {
        var folder = Path.Combine(settings.OutputFolder, string.Create(CultureInfo.InvariantCulture, $"demo-photos{(settings.Quick ? "-quick" : "")}-seed{settings.Seed}"));
        var csv = Path.Combine(folder, DemoPhotos.CsvName);
        return File.Exists(csv) ? csv : DemoPhotos.Write(folder, settings.Quick, settings.Seed);
    }

    /// <summary>The scoring input: an image path.</summary>
    public sealed class Photo
    {
        /// <summary>The image, relative to the folder the model was loaded with (or a full path).</summary>
        public string ImagePath { get; set; } = "";
    }

    /// <summary>The scoring output.</summary>
    public sealed class PhotoPrediction
    {
        /// <summary>The predicted label's text.</summary>
        public string PredictedLabel { get; set; } = "";

        /// <summary>One probability per label, in the label key's order.</summary>
        public float[] Score { get; set; } = [];
    }
}
