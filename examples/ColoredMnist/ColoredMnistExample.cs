using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Datasets.Mnist;
using ColoredMnistData = MLNet.FlatDebias.Datasets.Mnist.ColoredMnist;

namespace MLNet.FlatDebias.Examples.ColoredMnist;

/// <summary>
/// The Coloured MNIST protocol (LfF, Nam et al. 2020; PGD, Ahn et al. 2023): for each bias-conflicting share of the
/// training set, ERM, GroupDRO and FlatDebias trained on the same data with the same network, each selected on the
/// colour-uniform validation set (by accuracy unless asked otherwise), and evaluated on the colour-uniform test set:
/// accuracy, accuracy on bias-conflicting rows, and worst-group accuracy over the 100 (digit, colour) groups.
/// </summary>
public static class ColoredMnistExample
{
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
        var command = new ColoredMnistCommand();
        return CommandLineHost.Run(command.Create(), args, output, error ?? output, parsed =>
        {
            var settings = command.Resolve(parsed);
            Execute(settings, new TrainingConsole(output));
            return CommandLineHost.Success;
        });
    }

    /// <summary>The experiment with resolved settings.</summary>
    /// <param name="settings">The settings.</param>
    /// <param name="console">Where the output goes.</param>
    /// <returns>The results (also written to the output folder).</returns>
    public static ColoredMnistResults Execute(ColoredMnistSettings settings, TrainingConsole console)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(console);
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(settings.OutputFolder);
        var mlContext = new MLContext(settings.Seed);
        var mnist = MnistDataset.Load();

        console.Line($"Coloured MNIST: bias-conflicting shares {string.Join(", ", settings.ConflictingShares.Select(Format.Setting))}; rows: train {settings.TrainSize}, validation {settings.ValidationSize}, test {settings.TestSize} (colours uniform)");
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"  {settings.Network}{(settings.NetworkWidth is int w ? $" width {w}" : "")}, {settings.Epochs} epochs, batch {settings.BatchSize}, {settings.Optimizer} lr {settings.LearningRate:G} wd {settings.WeightDecay:G}, seed {settings.Seed}, device {settings.Device}"));
        console.Line($"  model selection on validation: {settings.Selection}");
        console.Line($"  FlatDebias: bound from trace quantile(s) {string.Join(", ", settings.Quantiles.Select(Format.Setting))}, other settings the trainer's defaults ({MethodComparison.FlatDebiasDefaults()})");
        console.Line();

        var files = new List<string>();
        var experiments = new List<ShareResult>();
        foreach (var share in settings.ConflictingShares)
        {
            experiments.Add(RunShare(settings, console, mlContext, mnist, share, files));
        }

        console.Line($"Coloured MNIST: test accuracy (%) on colour-uniform test rows, each method at the epoch chosen by {settings.Selection}; seed {settings.Seed}.");
        console.Line(TextTable.Render(["conflicting", "method", "unbiased accuracy", "conflicting rows", "worst group", "selected epoch"],
            [.. experiments.SelectMany(e => e.Methods.Select(m => (IReadOnlyList<string>)[Format.Setting(100 * e.ConflictingShare) + " %", m.Label,
                Format.Percent(m.TestAccuracy), Format.Percent(m.TestConflictingAccuracy), Format.Percent(m.TestWorstGroupAccuracy), Format.Count(m.SelectedEpoch)]))],
            [false, false, true, true, true, true]));
        console.Line("unbiased accuracy: all test rows (each digit in every colour equally often); conflicting rows: test rows whose colour is not the digit's; worst group: the lowest of the 100 (digit, colour) groups.");

        var methods = experiments[0].Methods.Select(m => m.Method).ToList();
        var shares = experiments.Select(e => Format.Setting(100 * e.ConflictingShare) + " %").ToList();
        Charts.Bars(Path.Combine(settings.OutputFolder, "unbiased-accuracy.png"), "Coloured MNIST: unbiased test accuracy by bias-conflicting share", "accuracy", shares,
            [.. methods.Select((name, i) => new ChartSeries(name, [.. experiments.Select(e => e.Methods[i].TestAccuracy)]))]);
        Charts.Bars(Path.Combine(settings.OutputFolder, "worst-group-accuracy.png"), "Coloured MNIST: worst-group test accuracy by bias-conflicting share", "accuracy", shares,
            [.. methods.Select((name, i) => new ChartSeries(name, [.. experiments.Select(e => e.Methods[i].TestWorstGroupAccuracy)]))]);
        files.AddRange(["unbiased-accuracy.png", "worst-group-accuracy.png", ResultsFile]);

        var results = new ColoredMnistResults(settings, experiments, files, clock.Elapsed.TotalSeconds, MethodComparison.FlatDebiasDefaults());
        ExperimentFiles.WriteJson(Path.Combine(settings.OutputFolder, ResultsFile), results);
        console.Line(string.Create(CultureInfo.InvariantCulture, $"Wrote {files.Count} files ({string.Join(", ", files.Where(f => !f.Contains('/', StringComparison.Ordinal)).Take(4))}, ...) to {settings.OutputFolder} ({clock.Elapsed.TotalMinutes:F1} min in all)."));
        return results;
    }

    private static ShareResult RunShare(ColoredMnistSettings settings, TrainingConsole console, MLContext mlContext, MnistDataset mnist, double share, List<string> files)
    {
        var splits = ColoredMnistData.Create(mnist, share, settings.Seed, settings.TrainSize, settings.ValidationSize, settings.TestSize);
        var name = Format.Setting(100 * share) + "%";
        var tag = "share-" + Format.Setting(share);
        int conflicting = Enumerable.Range(0, splits.Train.Count).Count(splits.Train.IsConflicting);
        console.Line($"Bias-conflicting share {name}: {conflicting} of {splits.Train.Count} training rows have another digit's colour.");
        int groups = Enumerable.Range(0, splits.Train.Count).Select(splits.Train.Group).Distinct().Count();
        if (groups < ColoredMnistData.GroupNames.Count)
            throw new UsageException($"--train-size {settings.TrainSize} is too small for the bias-conflicting share {Format.Setting(share)}: only {groups} of the {ColoredMnistData.GroupNames.Count} (digit, colour) groups have a training row, and GroupDRO trains on every group; use more rows or a larger share.");

        void Configure(NetworkTrainerOptions options)
        {
            options.LabelColumnName = "Label";
            options.FeatureColumnName = "Features";
            options.GroupColumnName = "Group";
            options.Network = settings.Network;
            options.NetworkWidth = settings.NetworkWidth;
            options.NumberOfEpochs = settings.Epochs;
            options.BatchSize = settings.BatchSize;
            options.LearningRate = settings.LearningRate;
            options.Optimizer = settings.Optimizer;
            options.WeightDecay = settings.WeightDecay;
            options.Seed = settings.Seed;
            options.Device = settings.Device;
            options.ValidationSet = splits.Validation.DataView;
            options.ModelSelection = settings.Selection;
        }

        var (runs, search) = MethodComparison.Train(mlContext, console, splits.Train.DataView, Configure, settings.Quantiles, prefix: name + " ");
        try
        {
            using var start = MethodComparison.FirstEpoch(mlContext, console, splits.Train.DataView, Configure, prefix: name + " ");
            var methods = new List<ColoredMnistMethodResult>();
            var aligned = ColoredMnistData.GroupNames.Select((g, i) => (g, i)).Where(x => x.i / 10 == x.i % 10).Select(x => x.g).ToHashSet(StringComparer.Ordinal);
            foreach (var run in runs)
            {
                var metrics = mlContext.MulticlassClassification.EvaluateGroups(run.Model.Transform(splits.Test.DataView));
                var conflictingGroups = metrics.ByGroup.Where(g => !aligned.Contains(g.Name)).ToList();
                var modelFile = $"{run.Method.ToLowerInvariant()}-{tag}.zip";
                ExperimentFiles.SaveModel(mlContext, run.Model, splits.Train.DataView.Schema, Path.Combine(settings.OutputFolder, modelFile));
                files.Add(modelFile);
                methods.Add(new ColoredMnistMethodResult
                {
                    Method = run.Method,
                    Label = run.Label,
                    ModelFile = modelFile,
                    SelectedEpoch = run.Model.History.SelectedEpoch + 1,
                    ValidationAccuracy = run.Selected.ValidationAccuracy,
                    ValidationWorstGroupAccuracy = run.Selected.ValidationWorstGroupAccuracy,
                    TraceBoundQuantile = run.Quantile,
                    TraceBound = run.Quantile is null ? null : run.Model.History.Epochs[^1].TraceBound,
                    TestAccuracy = metrics.AverageAccuracy,
                    TestConflictingAccuracy = (double)conflictingGroups.Sum(g => g.CorrectCount) / Math.Max(1, conflictingGroups.Sum(g => g.RowCount)),
                    TestWorstGroupAccuracy = metrics.WorstGroupAccuracy,
                    TestWorstGroup = metrics.WorstGroup,
                    Seconds = run.Seconds,
                    History = run.Model.History.Epochs,
                });
            }

            // The validation curve of the metric that chose the epochs.
            bool byAccuracy = settings.Selection == ModelSelection.ValidationAccuracy;
            var linesFile = $"validation-{tag}.png";
            Charts.Lines(Path.Combine(settings.OutputFolder, linesFile),
                $"Validation {(byAccuracy ? "accuracy" : "worst-group accuracy")} by epoch (bias-conflicting {name})", "epoch", byAccuracy ? "accuracy" : "worst-group accuracy",
                [.. runs.Select(r => new ChartLine(r.Label, [.. r.Model.History.Epochs.Select(e => (double)e.Epoch + 1)],
                    [.. r.Model.History.Epochs.Select(e => (byAccuracy ? e.ValidationAccuracy : e.ValidationWorstGroupAccuracy) ?? double.NaN)], r.Model.History.SelectedEpoch))]);
            files.Add(linesFile);

            // Traces of training rows: bias-aligned groups (colour = digit, group index 11 d) against bias-conflicting ones.
            var tracesFile = $"traces-{tag}.png";
            var images = LabelledImages.Read(splits.Train.DataView, "Features", "Label", "Group", settings.TraceRowsPerGroup);
            var traces = TraceComparison.Run(images, g => g / 10 == g % 10,
                [("after epoch 1", start), .. runs.Select(r => ($"{r.Method}, epoch {r.Model.History.SelectedEpoch + 1}", r.Model))],
                Path.Combine(settings.OutputFolder, tracesFile), console, settings.Device);
            files.Add(tracesFile);
            console.Line();
            return new ShareResult(share, conflicting, methods, search, traces);
        }
        finally
        {
            foreach (var run in runs) run.Model.Dispose();
        }
    }
}

/// <summary>What <c>results.json</c> holds.</summary>
/// <param name="Settings">The settings of the run.</param>
/// <param name="Experiments">One experiment per bias-conflicting share.</param>
/// <param name="Files">Files written, relative to the output folder.</param>
/// <param name="Seconds">Wall-clock seconds of the whole run.</param>
/// <param name="FlatDebiasDefaults">The FlatDebias constraint settings (the trainer's defaults) other than the searched quantile.</param>
public sealed record ColoredMnistResults(ColoredMnistSettings Settings, IReadOnlyList<ShareResult> Experiments, IReadOnlyList<string> Files, double Seconds, string FlatDebiasDefaults);

/// <summary>The three methods at one bias-conflicting share.</summary>
/// <param name="ConflictingShare">The share, 0 to 1.</param>
/// <param name="ConflictingTrainRows">Training rows whose colour is not their digit's.</param>
/// <param name="Methods">ERM, GroupDRO, FlatDebias.</param>
/// <param name="EpsilonSearch">The FlatDebias bound search (validation only).</param>
/// <param name="Traces">Trace distributions of training rows.</param>
public sealed record ShareResult(double ConflictingShare, int ConflictingTrainRows, IReadOnlyList<ColoredMnistMethodResult> Methods,
    IReadOnlyList<EpsilonCandidate> EpsilonSearch, TraceSummary Traces);

/// <summary>One method's selected model at one share.</summary>
public sealed record ColoredMnistMethodResult
{
    /// <summary>ERM, GroupDRO or FlatDebias.</summary>
    public required string Method { get; init; }

    /// <summary>The method with its chosen quantile.</summary>
    public required string Label { get; init; }

    /// <summary>The model file, relative to the output folder.</summary>
    public required string ModelFile { get; init; }

    /// <summary>The epoch (1-based) whose weights were kept.</summary>
    public required int SelectedEpoch { get; init; }

    /// <summary>Validation accuracy at the selected epoch.</summary>
    public double? ValidationAccuracy { get; init; }

    /// <summary>Validation worst-group accuracy at the selected epoch.</summary>
    public double? ValidationWorstGroupAccuracy { get; init; }

    /// <summary>FlatDebias: the quantile that won.</summary>
    public double? TraceBoundQuantile { get; init; }

    /// <summary>FlatDebias: the bound epsilon.</summary>
    public double? TraceBound { get; init; }

    /// <summary>Accuracy over all (colour-uniform) test rows: the literature's unbiased accuracy.</summary>
    public required double TestAccuracy { get; init; }

    /// <summary>Accuracy over the bias-conflicting test rows.</summary>
    public required double TestConflictingAccuracy { get; init; }

    /// <summary>The lowest test group accuracy.</summary>
    public required double TestWorstGroupAccuracy { get; init; }

    /// <summary>The group with the lowest test accuracy.</summary>
    public required string TestWorstGroup { get; init; }

    /// <summary>Training seconds.</summary>
    public required double Seconds { get; init; }

    /// <summary>The per-epoch history.</summary>
    public required IReadOnlyList<EpochReport> History { get; init; }
}
