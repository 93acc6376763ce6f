using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>
/// The paper's experiment (METHOD.md section 5) as a program: ERM, GroupDRO and FlatDebias trained on the same data
/// with the same network, each model selected on validation worst-group accuracy (FlatDebias's bound too, from a small
/// grid of trace quantiles), then evaluated on test.
/// </summary>
public static class WaterbirdsExample
{
    /// <summary>The paper's Table 1 (Han &amp; Lee; ResNet-50 on real Waterbirds), percent.</summary>
    public static IReadOnlyList<PaperRow> PaperTable { get; } =
    [
        new("ERM", 97.3, 60.0),
        new("GroupDRO", 93.2, 86.0),
        new("FlatDebias", 91.94, 84.58),
    ];

    /// <summary>The results file's name in the output folder.</summary>
    public const string ResultsFile = "results.json";

    /// <summary>Runs the program.</summary>
    /// <param name="args">The command line (<c>--help</c> lists it).</param>
    /// <param name="output">Where the tables and progress go.</param>
    /// <param name="error">Where one-line errors go; null for <paramref name="output"/>.</param>
    /// <returns>0 on success, 1 when the run failed, 2 for a bad command line.</returns>
    public static int Run(string[] args, TextWriter output, TextWriter? error = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        var command = new WaterbirdsCommand();
        return CommandLineHost.Run(command.Create(), args, output, error ?? output, parsed =>
        {
            var settings = command.Resolve(parsed);
            if (settings.FineTune) FineTuneExperiment.Execute(settings, new TrainingConsole(output));
            else if (settings.Search) FrozenSearchExperiment.Execute(settings, new TrainingConsole(output)).Dispose();
            else Execute(settings, new TrainingConsole(output));
            return CommandLineHost.Success;
        });
    }

    /// <summary>The experiment with resolved settings.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="console">Where the output goes.</param>
    /// <returns>The results (also written to the output folder).</returns>
    public static WaterbirdsResults Execute(WaterbirdsSettings settings, TrainingConsole console)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        if (settings.FrozenBackbone) return FrozenBackboneExperiment.Execute(settings, console);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(settings.OutputFolder);
        var mlContext = new MLContext(settings.Seed);

        var folder = settings.DataFolder ?? BuildMnistSet(settings, console);
        var rawTrain = mlContext.Data.LoadWaterbirds(folder, WaterbirdsSplit.Train);
        var rawValidation = mlContext.Data.LoadWaterbirds(folder, WaterbirdsSplit.Validation);
        var rawTest = mlContext.Data.LoadWaterbirds(folder, WaterbirdsSplit.Test);
        var preprocessing = mlContext.Transforms.ImageNetPreprocessing(resize: settings.ResizeSize, crop: settings.ImageSize).Fit(rawTrain);
        var train = Prepare(mlContext, preprocessing, rawTrain, settings);
        var validation = Prepare(mlContext, preprocessing, rawValidation, settings);
        var test = Prepare(mlContext, preprocessing, rawTest, settings);
        var groupWeights = mlContext.MulticlassClassification.ComputeGroupWeights(rawTrain, WaterbirdsColumns.Group);
        var data = Summarize(mlContext, rawTrain, rawValidation, rawTest);

        console.Line($"Waterbirds experiment on {(settings.RealData ? "Waterbirds" : "the Waterbirds-format MNIST set")}: {folder}");
        console.Line($"  rows: train {data.Train}, validation {data.Validation}, test {data.Test}; training groups: {string.Join(", ", data.TrainGroups.Select(g => $"{g.Key} {g.Value}"))}");
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"  {settings.Network}{(settings.NetworkWidth is int w ? $" width {w}" : "")} at {settings.ImageSize}x{settings.ImageSize} px, {settings.Epochs} epochs, batch {settings.BatchSize}, {settings.Optimizer} lr {settings.LearningRate:G} wd {settings.WeightDecay:G}, seed {settings.Seed}, device {settings.Device}"));
        console.Line($"  FlatDebias: bound searched over trace quantiles {string.Join(", ", settings.Quantiles.Select(Format.Setting))}, other settings the trainer's defaults ({MethodComparison.FlatDebiasDefaults()})");
        console.Line();

        void Configure(NetworkTrainerOptions options) => ApplySettings(options, settings, preprocessing.OutputShape, validation);
        var (runs, search) = MethodComparison.Train(mlContext, console, train, Configure, settings.Quantiles);
        try
        {
            using var start = MethodComparison.FirstEpoch(mlContext, console, train, Configure);
            console.Line();
            var results = Report(settings, console, mlContext, folder, preprocessing, rawTrain, train, test, groupWeights, data, runs, search, start);
            var final = results with { Seconds = clock.Elapsed.TotalSeconds };
            ExperimentFiles.WriteJson(Path.Combine(settings.OutputFolder, ResultsFile), final);
            console.Line(string.Create(CultureInfo.InvariantCulture, $"Wrote {string.Join(", ", final.Files)} to {settings.OutputFolder} ({clock.Elapsed.TotalMinutes:F1} min in all)."));
            return final;
        }
        finally
        {
            foreach (var run in runs) run.Model.Dispose();
        }
    }

    internal static string BuildMnistSet(WaterbirdsSettings settings, TrainingConsole console)
    {
        // Written at the network's image size (WaterbirdsMnist's range is 16-512 px): decoding small PNGs is most of
        // the data cost, and the preprocessing's resize is then the identity.
        int size = Math.Clamp(settings.ImageSize, 16, 512);
        var cache = Path.Combine(Path.GetDirectoryName(MnistFiles.CacheFolder)!, "waterbirds-mnist",
            string.Create(CultureInfo.InvariantCulture, $"scale{settings.ScaleDivisor}-seed{settings.Seed}-{size}px"));
        console.Line($"Building (or reusing) the Waterbirds-format MNIST set in {cache} ...");
        var mnist = MnistDataset.Load();
        return WaterbirdsMnist.Write(cache, mnist, settings.ScaleDivisor, settings.Seed, size);
    }

    /// <summary>The preprocessed split; held in memory when small (the MNIST-built set), so that the five trainings and
    /// the evaluations decode each image once.</summary>
    internal static IDataView Prepare(MLContext mlContext, ITransformer preprocessing, IDataView raw, WaterbirdsSettings settings)
    {
        var features = preprocessing.Transform(raw);
        long bytes = (long)raw.GetRowCount().GetValueOrDefault() * 3 * settings.ImageSize * settings.ImageSize * sizeof(float);
        return bytes <= MaxCachedBytes ? mlContext.Data.Cache(features) : features;
    }

    /// <summary>Largest split held in memory after preprocessing: 1 GiB.</summary>
    private const long MaxCachedBytes = 1L << 30;

    /// <summary>The settings every method of a table shares. <paramref name="shape"/> is the image shape of a pixel column, or
    /// null for the frozen backbone's feature vectors, on which the backbone's weights and image augmentation do not apply.</summary>
    internal static void ApplySettings(NetworkTrainerOptions options, WaterbirdsSettings settings, ImageShape? shape, IDataView? validation)
    {
        options.LabelColumnName = WaterbirdsColumns.Label;
        options.FeatureColumnName = "Features";
        options.GroupColumnName = WaterbirdsColumns.Group;
        options.Network = settings.Network;
        options.NetworkWidth = settings.NetworkWidth;
        // The preprocessing's output column has no image dimensions: the shape comes from the transformer.
        options.ImageShape = shape;
        options.PretrainedWeightsPath = shape is null ? null : settings.PretrainedWeights;
        options.NumberOfEpochs = settings.Epochs;
        options.BatchSize = settings.BatchSize;
        options.LearningRate = settings.LearningRate;
        options.Optimizer = settings.Optimizer;
        options.Momentum = settings.Momentum;
        options.WeightDecay = settings.WeightDecay;
        options.Augmentation = shape is not null && settings.Augmentation;
        options.Seed = settings.Seed;
        options.Device = settings.Device;
        options.ValidationSet = validation;
        options.ModelSelection = ModelSelection.ValidationWorstGroupAccuracy;
    }

    internal static DatasetSummary Summarize(MLContext mlContext, IDataView train, IDataView validation, IDataView test)
    {
        var shares = mlContext.MulticlassClassification.ComputeGroupWeights(train, WaterbirdsColumns.Group);
        int trainRows = (int)train.GetRowCount().GetValueOrDefault();
        return new DatasetSummary(trainRows, (int)validation.GetRowCount().GetValueOrDefault(), (int)test.GetRowCount().GetValueOrDefault(),
            shares.ToDictionary(s => s.Key, s => (int)Math.Round(s.Value * trainRows)));
    }

    /// <summary>Evaluates on test, prints the tables, writes the models and the charts.</summary>
    private static WaterbirdsResults Report(WaterbirdsSettings settings, TrainingConsole console, MLContext mlContext, string folder,
        ITransformer preprocessing, IDataView rawTrain, IDataView train, IDataView test, IReadOnlyDictionary<string, double> groupWeights,
        DatasetSummary data, IReadOnlyList<MethodRun> runs, IReadOnlyList<EpsilonCandidate> search, ClassifierNetworkTransformer start)
    {
        var files = new List<string>();
        // The saved models read image paths: the preprocessing and the network in one ML.NET chain.
        var (metrics, methods) = WaterbirdsReport.EvaluateAndSave(settings, mlContext, runs, preprocessing, rawTrain.Schema, test, groupWeights, files);

        console.Line($"Table 1: test accuracy (%), each method at its best validation worst-group epoch; seed {settings.Seed}.");
        console.Line($"The paper's numbers are ResNet-50 (ImageNet-pretrained) on real Waterbirds{(settings.RealData ? "" : "; this run is the MNIST-built set, so compare the pattern, not the values")}.");
        console.Line(TextTable.Render(["method", "average", "adjusted average", "worst group", "paper average", "paper worst group"],
            [.. runs.Select((run, i) => (IReadOnlyList<string>)[run.Label, Format.Percent(metrics[i].AverageAccuracy), Format.Percent(metrics[i].AdjustedAverageAccuracy),
                Format.Percent(metrics[i].WorstGroupAccuracy), PaperTable[i].Average.ToString("F2", CultureInfo.InvariantCulture), PaperTable[i].WorstGroup.ToString("F2", CultureInfo.InvariantCulture)])]));
        console.Line("average: all test rows; adjusted average: test group accuracies weighted by the training group shares (the Waterbirds convention).");
        console.Line();
        WaterbirdsReport.GroupTable(settings, console, runs, metrics, data, files, "Test accuracy per group");
        Charts.Lines(Path.Combine(settings.OutputFolder, "validation-worst-group.png"), "Validation worst-group accuracy by epoch", "epoch", "worst-group accuracy",
            [.. runs.Select(r => new ChartLine(r.Label, [.. r.Model.History.Epochs.Select(e => (double)e.Epoch + 1)],
                [.. r.Model.History.Epochs.Select(e => e.ValidationWorstGroupAccuracy ?? double.NaN)], r.Model.History.SelectedEpoch))]);
        files.Add("validation-worst-group.png");

        // Traces of training rows: majority groups (place matches the label: group index 2y + place is 0 or 3) against minority groups.
        var images = LabelledImages.Read(train, "Features", WaterbirdsColumns.Label, WaterbirdsColumns.Group, settings.TraceRowsPerGroup);
        var traces = TraceComparison.Run(images, g => g is 0 or 3,
            [("after epoch 1", start), .. runs.Select(r => ($"{r.Method}, epoch {r.Model.History.SelectedEpoch + 1}", r.Model))],
            Path.Combine(settings.OutputFolder, "traces.png"), console, settings.Device);
        files.Add("traces.png");
        files.Add(ResultsFile);
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
            Paper = PaperTable,
            Files = files,
            Seconds = 0,
        };
    }
}
