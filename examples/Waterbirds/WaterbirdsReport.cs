using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>What both Waterbirds tables (on pixels and on a frozen backbone) report: test metrics, saved models, the
/// per-group table and its chart.</summary>
internal static class WaterbirdsReport
{
    /// <summary>Evaluates every run on test and saves each model behind <paramref name="front"/> (the steps from image paths
    /// to the model's input), so that the saved zip scores image paths.</summary>
    public static (List<GroupMetrics> Metrics, List<MethodResult> Methods) EvaluateAndSave(WaterbirdsSettings settings, MLContext mlContext,
        IReadOnlyList<MethodRun> runs, ITransformer front, DataViewSchema rawSchema, IDataView test, IReadOnlyDictionary<string, double> groupWeights,
        List<string> files)
    {
        var metrics = new List<GroupMetrics>();
        var methods = new List<MethodResult>();
        foreach (var run in runs)
        {
            var m = mlContext.MulticlassClassification.EvaluateGroups(run.Model.Transform(test), WaterbirdsColumns.Label, WaterbirdsColumns.Group, groupWeights: groupWeights);
            metrics.Add(m);
            var modelFile = string.Concat(run.Method.ToLowerInvariant().Select(c => char.IsLetterOrDigit(c) ? c : '-')) + ".zip";
            ExperimentFiles.SaveModel(mlContext, new TransformerChain<ITransformer>(front, run.Model), rawSchema, Path.Combine(settings.OutputFolder, modelFile));
            files.Add(modelFile);
            var history = run.Model.History;
            methods.Add(new MethodResult
            {
                Method = run.Method,
                ModelFile = modelFile,
                SelectedEpoch = history.SelectedEpoch + 1,
                ValidationWorstGroupAccuracy = history.Epochs.Count > 0 ? run.Selected.ValidationWorstGroupAccuracy : null,
                TraceBoundQuantile = run.Quantile,
                TraceBound = run.Quantile is null ? null : history.Epochs[^1].TraceBound,
                TestAverageAccuracy = m.AverageAccuracy,
                TestAdjustedAverageAccuracy = m.AdjustedAverageAccuracy ?? double.NaN,
                TestWorstGroupAccuracy = m.WorstGroupAccuracy,
                TestWorstGroup = m.WorstGroup,
                TestGroups = [.. m.ByGroup.Select(g => new GroupResult(g.Name, g.RowCount, g.Accuracy))],
                Seconds = run.Seconds,
                History = history.Epochs,
            });
        }
        return (metrics, methods);
    }

    /// <summary>Prints the per-group test table and draws <c>group-accuracy.png</c>.</summary>
    public static void GroupTable(WaterbirdsSettings settings, TrainingConsole console, IReadOnlyList<MethodRun> runs, IReadOnlyList<GroupMetrics> metrics,
        DatasetSummary data, List<string> files, string chartTitle)
    {
        console.Line("Per-group test accuracy (%):");
        var groups = metrics[0].ByGroup;
        console.Line(TextTable.Render(["group", "train rows", "test rows", .. runs.Select(r => r.Method)],
            [.. groups.Select((g, i) => (IReadOnlyList<string>)[g.Name, Format.Count(data.TrainGroups.GetValueOrDefault(g.Name)),
                Format.Count(g.RowCount), .. metrics.Select(m => Format.Percent(m.ByGroup[i].Accuracy))])]));
        Charts.Bars(Path.Combine(settings.OutputFolder, "group-accuracy.png"), chartTitle, "accuracy",
            [.. groups.Select(g => $"{g.Name} ({data.TrainGroups.GetValueOrDefault(g.Name)} train)")],
            [.. runs.Select((r, i) => new ChartSeries(r.Label, [.. metrics[i].ByGroup.Select(g => g.Accuracy)]))]);
        files.Add("group-accuracy.png");
    }
}
