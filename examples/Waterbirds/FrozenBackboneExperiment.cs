using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Waterbirds;
using MLNet.FlatDebias.Trainers.LastLayer;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>
/// The Waterbirds table on a frozen, pretrained backbone (<c>--frozen-backbone</c>): every image goes once through
/// the preprocessing and the backbone (<see cref="PretrainedFeaturesEstimator"/>), the features are kept in feature files
/// (<see cref="FeatureFile"/>, reused by later runs), and each method trains a head (a linear layer by default) on them:
/// ERM, GroupDRO, FlatDebias with its defaults and with the paper's exact setting (each with the bound search), JTT,
/// PGD, LfF, and DFR over the ERM model. Every model is selected on validation worst-group accuracy and reported on test;
/// the saved models score image paths (preprocessing, backbone and head in one ML.NET chain).
/// </summary>
internal static class FrozenBackboneExperiment
{
    /// <summary>The frozen backbone's features of the three splits, extracted once (feature files) and cached in memory.</summary>
    internal sealed record Features(string Folder, IDataView[] Raw, ImageNetPreprocessingTransformer Preprocessing, FeatureBackbone Backbone,
        PretrainedFeaturesTransformer Featurizer, IDataView Train, IDataView Validation, IDataView Test, DatasetSummary Data,
        IReadOnlyList<SplitFeatures> Splits, double DatasetSeconds, double ExtractionSeconds) : IDisposable
    {
        /// <summary>Image paths to features: the preprocessing and the frozen backbone.</summary>
        public ITransformer ImagesToFeatures => new TransformerChain<ITransformer>(Preprocessing, Featurizer);

        public void Dispose() => Backbone.Dispose();
    }

    /// <summary>Builds (or finds) the dataset and extracts its features, printing what it does.</summary>
    internal static Features Extract(WaterbirdsSettings settings, TrainingConsole console, MLContext mlContext, Stopwatch clock)
    {
        Directory.CreateDirectory(settings.OutputFolder);
        var folder = settings.DataFolder ?? WaterbirdsExample.BuildMnistSet(settings, console);
        double datasetSeconds = clock.Elapsed.TotalSeconds;
        var raw = new[] { WaterbirdsSplit.Train, WaterbirdsSplit.Validation, WaterbirdsSplit.Test }
            .Select(split => mlContext.Data.LoadWaterbirds(folder, split)).ToArray();
        var preprocessing = mlContext.Transforms.ImageNetPreprocessing(resize: settings.ResizeSize, crop: settings.ImageSize).Fit(raw[0]);
        var backbone = settings.PretrainedWeights is null
            ? FeatureBackbone.ImageNetResNet18(inputShape: preprocessing.OutputShape)
            : FeatureBackbone.FromPretrainedWeights(settings.Backbone, settings.PretrainedWeights, preprocessing.OutputShape);
        var featurizer = mlContext.Transforms.PretrainedFeatures(backbone).Fit(preprocessing.Transform(raw[0]));
        var data = WaterbirdsExample.Summarize(mlContext, raw[0], raw[1], raw[2]);

        console.Line($"Waterbirds experiment on a frozen backbone, {(settings.RealData ? "Waterbirds" : "the Waterbirds-format MNIST set")}: {folder}");
        console.Line($"  rows: train {data.Train}, validation {data.Validation}, test {data.Test}; training groups: {string.Join(", ", data.TrainGroups.Select(g => $"{g.Key} {g.Value}"))}");
        console.Line($"  backbone: {backbone.Name}, {backbone.FeatureDimension} features at {settings.ImageSize}x{settings.ImageSize} px (resize {settings.ResizeSize}); feature files in {settings.FeatureCacheFolder}");
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"  head: {settings.Network}{(settings.NetworkWidth is int w ? $" width {w}" : "")}, {settings.Epochs} epochs, batch {settings.BatchSize}, {settings.Optimizer} lr {settings.LearningRate:G} wd {settings.WeightDecay:G}, seed {settings.Seed}"));
        console.Line();

        // Features once per image, kept for later runs (keyed by dataset, preprocessing and backbone).
        var extractionClock = Stopwatch.StartNew();
        var names = new[] { "train", "validation", "test" };
        var splits = new List<SplitFeatures>();
        var features = new IDataView[3];
        string cacheFolder = Path.Combine(settings.FeatureCacheFolder, CacheName(folder, backbone));
        for (int i = 0; i < 3; i++)
        {
            var key = new FeatureFileKey(FeatureFileKey.DescribeDataset(mlContext, raw[i]), preprocessing.Description, featurizer.BackboneFingerprint);
            var images = mlContext.Transforms.SelectColumns(WaterbirdsColumns.ImagePath, WaterbirdsColumns.Label, WaterbirdsColumns.Group, "Features")
                .Fit(preprocessing.Transform(raw[i])).Transform(preprocessing.Transform(raw[i]));
            int count = (int)raw[i].GetRowCount().GetValueOrDefault();
            var path = Path.Combine(cacheFolder, names[i] + ".idv");
            var result = console.Count($"features {names[i]} ({count} images)", count, progress => FeatureFile.LoadOrCreate(mlContext, images, featurizer, path, key, progress));
            console.Line(result.Reused
                ? string.Create(CultureInfo.InvariantCulture, $"  {names[i]}: reused {result.Path} ({result.Seconds:F1} s)")
                : string.Create(CultureInfo.InvariantCulture, $"  {names[i]}: extracted {count} images in {result.Seconds:F1} s ({count / result.Seconds:F1} images/s; {result.Reason})"));
            splits.Add(new SplitFeatures(names[i], count, result.Path, result.Reused, result.Reason, result.Seconds));
            features[i] = mlContext.Data.Cache(result.Data);
        }
        console.Line();
        return new Features(folder, raw, preprocessing, backbone, featurizer, features[0], features[1], features[2], data, splits, datasetSeconds,
            extractionClock.Elapsed.TotalSeconds);
    }

    public static WaterbirdsResults Execute(WaterbirdsSettings settings, TrainingConsole console)
    {
        var clock = Stopwatch.StartNew();
        var mlContext = new MLContext(settings.Seed);
        using var extracted = Extract(settings, console, mlContext, clock);
        var (folder, raw, preprocessing, featurizer, data, splits) = (extracted.Folder, extracted.Raw, extracted.Preprocessing, extracted.Featurizer, extracted.Data, extracted.Splits);
        var (datasetSeconds, extractionSeconds) = (extracted.DatasetSeconds, extracted.ExtractionSeconds);
        var (train, validation, test) = (extracted.Train, extracted.Validation, extracted.Test);
        var groupWeights = mlContext.MulticlassClassification.ComputeGroupWeights(raw[0], WaterbirdsColumns.Group);

        // Flat feature vectors: no image shape; the backbone's weights are not the head's.
        void Configure(NetworkTrainerOptions options) => WaterbirdsExample.ApplySettings(options, settings, null, validation);

        var trainingClock = Stopwatch.StartNew();
        var (runs, search) = MethodComparison.Train(mlContext, console, train, Configure, settings.Quantiles);
        var all = new List<MethodRun>(runs);
        try
        {
            var trainers = mlContext.MulticlassClassification.Trainers;
            var (paper, paperSearch) = MethodComparison.SearchFlatDebias(console, train, Configure, settings.Quantiles, FlatDebiasTrainer.Options.PaperExact,
                "FlatDebias paper-exact", "", o => trainers.FlatDebias(o).Fit(train));
            all.Add(paper);
            MethodComparison.PrintSearch(console, "FlatDebias paper-exact", paperSearch, ModelSelection.ValidationWorstGroupAccuracy);
            all.Add(Peer(console, "JTT", MethodComparison.With(new JttTrainer.Options(), Configure), o => trainers.Jtt(o).Fit(train)));
            all.Add(Peer(console, "PGD", MethodComparison.With(new PgdTrainer.Options(), Configure), o => trainers.Pgd(o).Fit(train)));
            all.Add(Peer(console, "LfF", MethodComparison.With(new LffTrainer.Options(), Configure), o => trainers.Lff(o).Fit(train)));
            var dfrClock = Stopwatch.StartNew();
            var dfr = trainers.Dfr(runs[0].Model, new DfrTrainer.Options
            {
                LabelColumnName = WaterbirdsColumns.Label,
                FeatureColumnName = "Features",
                GroupColumnName = WaterbirdsColumns.Group,
                Seed = settings.Seed,
            }).Fit(validation);
            all.Add(new MethodRun("DFR", dfr, runs[0].Seconds + dfrClock.Elapsed.TotalSeconds, null));
            console.Line(string.Create(CultureInfo.InvariantCulture, $"DFR: the ERM model's last layer re-fitted on validation ({dfrClock.Elapsed.TotalSeconds:F1} s)"));
            double trainingSeconds = trainingClock.Elapsed.TotalSeconds;
            console.Line();

            var results = Report(settings, console, mlContext, folder, new TransformerChain<ITransformer>(preprocessing, featurizer), raw[0], train, test,
                groupWeights, data, all, [.. search, .. paperSearch]);
            var final = results with
            {
                Seconds = clock.Elapsed.TotalSeconds,
                DatasetSeconds = datasetSeconds,
                ExtractionSeconds = extractionSeconds,
                TrainingSeconds = trainingSeconds,
                Extraction = new FeatureExtractionSummary(featurizer.BackboneFingerprint, preprocessing.Description, splits),
            };
            ExperimentFiles.WriteJson(Path.Combine(settings.OutputFolder, WaterbirdsExample.ResultsFile), final);
            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"Wall-clock: dataset {datasetSeconds:F1} s, features {extractionSeconds:F1} s ({splits.Count(s => s.Reused)} of 3 splits reused), training {trainingSeconds:F1} s, {clock.Elapsed.TotalMinutes:F1} min in all."));
            console.Line($"Wrote {string.Join(", ", final.Files)} to {settings.OutputFolder}.");
            return final;
        }
        finally
        {
            foreach (var run in all) run.Model.Dispose();
        }
    }

    /// <summary>The feature files' folder for a dataset folder and backbone: readable names plus a hash of the full
    /// dataset path and the backbone fingerprint, so two datasets or backbones never share files.</summary>
    private static string CacheName(string folder, FeatureBackbone backbone)
    {
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(folder) + "\n" + backbone.Fingerprint)))[..12];
        var readable = string.Concat((Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)) + "-" + backbone.Name)
            .Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '-'));
        return $"{readable}-{hash}";
    }

    private static MethodRun Peer<T>(TrainingConsole console, string method, T options, Func<T, ClassifierNetworkTransformer> fit) where T : NetworkTrainerOptions
    {
        var (model, seconds) = MethodComparison.Timed(console, method, options, fit);
        return new MethodRun(method, model, seconds, null);
    }

    private static WaterbirdsResults Report(WaterbirdsSettings settings, TrainingConsole console, MLContext mlContext, string folder,
        ITransformer imagesToFeatures, IDataView rawTrain, IDataView train, IDataView test, IReadOnlyDictionary<string, double> groupWeights,
        DatasetSummary data, IReadOnlyList<MethodRun> runs, IReadOnlyList<EpsilonCandidate> search)
    {
        var files = new List<string>();
        // The saved models read image paths: preprocessing, backbone and head in one ML.NET chain.
        var (metrics, methods) = WaterbirdsReport.EvaluateAndSave(settings, mlContext, runs, imagesToFeatures, rawTrain.Schema, test, groupWeights, files);

        string Paper(string method, Func<PaperRow, double> value)
            => WaterbirdsExample.PaperTable.FirstOrDefault(p => p.Method == method) is { } row ? value(row).ToString("F2", CultureInfo.InvariantCulture) : "";
        console.Line($"Table 1 on a frozen backbone: test accuracy (%), each method at its best validation worst-group epoch; seed {settings.Seed}.");
        console.Line($"The paper's numbers fine-tune a ResNet-50 (ImageNet-pretrained) on real Waterbirds{(settings.RealData ? "" : "; this run is the MNIST-built set, so compare the pattern, not the values")}.");
        console.Line(TextTable.Render(["method", "average", "adjusted average", "worst group", "training s", "paper average", "paper worst group"],
            [.. runs.Select((run, i) => (IReadOnlyList<string>)[run.Label, Format.Percent(metrics[i].AverageAccuracy), Format.Percent(metrics[i].AdjustedAverageAccuracy),
                Format.Percent(metrics[i].WorstGroupAccuracy), run.Seconds.ToString("F1", CultureInfo.InvariantCulture), Paper(run.Method, p => p.Average), Paper(run.Method, p => p.WorstGroup)])]));
        console.Line("GroupDRO trains on the training groups; DFR fits its last layer on the validation groups; the others use groups only to choose the epoch (and the bound).");
        console.Line();
        WaterbirdsReport.GroupTable(settings, console, runs, metrics, data, files, "Test accuracy per group (frozen backbone)");

        // Traces of training rows under each head: for a linear head the head's trace is the whole network's (the paper's definition).
        var images = LabelledImages.Read(train, "Features", WaterbirdsColumns.Label, WaterbirdsColumns.Group, settings.TraceRowsPerGroup);
        var traces = TraceComparison.Run(images, g => g is 0 or 3,
            [.. runs.Select(r => ($"{r.Method}, epoch {r.Model.History.SelectedEpoch + 1}", r.Model))],
            Path.Combine(settings.OutputFolder, "traces.png"), console, settings.Device);
        files.Add("traces.png");
        files.Add(WaterbirdsExample.ResultsFile);
        return new WaterbirdsResults
        {
            Dataset = settings.RealData ? "waterbirds" : "waterbirds-mnist",
            DataFolder = folder,
            Settings = settings,
            Data = data,
            FlatDebiasDefaults = MethodComparison.FlatDebiasDefaults(),
            Methods = methods,
            EpsilonSearch = search,
            Traces = traces,
            Paper = WaterbirdsExample.PaperTable,
            Files = files,
            Seconds = 0,
        };
    }
}
