using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Datasets.Waterbirds;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>
/// <c>--frozen-backbone --search</c>: the library's method search (<see cref="MethodSearch"/>) on the frozen backbone's
/// features of the Waterbirds-format set: every method the data allows gets the same draws, chosen on validation worst-group
/// accuracy; DFR and DPE fit on one half of the validation split (the held-out set), and the other half chooses, so that
/// every method is chosen on rows it did not fit on. Prints the leaderboard, writes the report (report.md, the chart,
/// leaderboard.csv) and the chosen model (image paths in, scores out) to <c>--output/search</c>; the trainings are kept in
/// <c>--output/search/runs</c>, so a stopped run resumes.
/// </summary>
internal static class FrozenSearchExperiment
{
    public const string Folder = "search";
    public const string ModelFile = "chosen-model.zip";

    public static MethodSearchResult Execute(WaterbirdsSettings settings, TrainingConsole console, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        var mlContext = new MLContext(settings.Seed);
        using var features = FrozenBackboneExperiment.Extract(settings, console, mlContext, clock);
        var halves = mlContext.Data.TrainTestSplit(features.Validation, testFraction: 0.5, seed: settings.Seed);
        var folder = Path.Combine(settings.OutputFolder, Folder);
        var options = new MethodSearchOptions
        {
            LabelColumnName = WaterbirdsColumns.Label,
            FeatureColumnName = "Features",
            GroupColumnName = WaterbirdsColumns.Group,
            DrawsPerMethod = settings.SearchDraws,
            TimeBudget = settings.SearchTimeBudget,
            Seeds = settings.Quick ? [1] : [1, 2, 3],
            HeldOutSet = mlContext.Data.Cache(halves.TestSet),
            TestSet = features.Test,
            ResultFolder = folder,
            Device = settings.Device,
            // The table's head settings; the search sets the columns, seed, device, validation set and selection after them.
            Network = o => WaterbirdsExample.ApplySettings(o, settings, shape: null, validation: null),
        };
        var validation = mlContext.Data.Cache(halves.TrainSet);
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"Method search: {(settings.SearchTimeBudget is { } b ? $"a time budget of {b.TotalMinutes:G} min" : $"{settings.SearchDraws} draw{(settings.SearchDraws == 1 ? "" : "s")} per method")}, "
            + $"seeds {string.Join(", ", options.Seeds)} for the chosen one; the validation split in random halves (one chooses, one is held out for DFR and DPE); trainings kept in {Path.Combine(folder, "runs")}"));
        var search = mlContext.MulticlassClassification.CreateMethodSearch(options);
        var progress = new Progress(console);
        var result = search.Execute(features.Train, validation, progress, cancellationToken);
        try
        {
            console.Line();
            console.Line(result.FormatLeaderboard());
            var report = result.WriteReport(folder);
            var modelPath = Path.Combine(folder, ModelFile);
            mlContext.Model.Save(new TransformerChain<ITransformer>(features.Preprocessing, features.Featurizer, result.Model), features.Raw[0].Schema, modelPath);
            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"Chosen: {result.Chosen.Method}, draw {result.Chosen.Draw} ({result.Chosen.Values}); validation worst group {100 * result.Chosen.ValidationWorstGroup:F1} % (seed 0)."));
            console.Line($"Its seeds {string.Join(", ", result.ChosenSeeds.Select(t => t.Seed))}: test worst group {result.ChosenTest}.");
            if (result.BudgetNote.Length > 0) console.Line($"({result.BudgetNote}.)");
            foreach (var note in result.Notes) console.Line($"Note: {note}");
            console.Line(string.Create(CultureInfo.InvariantCulture,
                $"Wrote {report}, the chart, leaderboard.csv and {modelPath} (image paths in: preprocessing, backbone and head). {clock.Elapsed.TotalMinutes:F1} min in all."));
            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>One line per training, as it finishes.</summary>
    private sealed class Progress(TrainingConsole console) : IProgress<MethodSearchProgress>
    {
        public void Report(MethodSearchProgress value) => console.Line(string.Create(CultureInfo.InvariantCulture, $"  {value} ({value.Trial.Seconds:F1} s)"));
    }
}
