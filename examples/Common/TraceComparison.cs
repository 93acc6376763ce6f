using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Examples;

/// <summary>Trace statistics of one model: majority against minority rows.</summary>
/// <param name="Model">The model's name (e.g. <c>ERM, epoch 7</c>).</param>
/// <param name="MajorityMedian">Median trace of the majority (bias-aligned) rows.</param>
/// <param name="MinorityMedian">Median trace of the minority (bias-conflicting) rows.</param>
/// <param name="MajorityMean">Mean trace of the majority rows.</param>
/// <param name="MinorityMean">Mean trace of the minority rows.</param>
public sealed record TraceStatistics(string Model, double MajorityMedian, double MinorityMedian, double MajorityMean, double MinorityMean);

/// <summary>The trace distributions of several models on the same training rows.</summary>
/// <param name="Scope">The trace scope (the FlatDebias default's).</param>
/// <param name="Estimator">The trace estimator (the FlatDebias default's).</param>
/// <param name="MajorityRows">Majority rows measured.</param>
/// <param name="MinorityRows">Minority rows measured.</param>
/// <param name="Models">One entry per model.</param>
public sealed record TraceSummary(string Scope, string Estimator, int MajorityRows, int MinorityRows, IReadOnlyList<TraceStatistics> Models);

/// <summary>
/// Per-sample Fisher traces of training rows for several models, majority groups against minority groups: the
/// picture the paper's argument rests on (minority rows sit where the trace is large). The traces are the ones the
/// FlatDebias trainer bounds with its default settings (<c>new FlatDebiasTrainer.Options()</c>).
/// </summary>
public static class TraceComparison
{
    /// <summary>Computes the traces, draws the histograms into <paramref name="pngPath"/> and prints a summary table.</summary>
    /// <param name="images">The training rows.</param>
    /// <param name="isMajority">Whether a group index is a majority (bias-aligned) group.</param>
    /// <param name="models">The models, by name.</param>
    /// <param name="pngPath">The chart file.</param>
    /// <param name="console">Where the table goes.</param>
    /// <param name="device">Where to compute (the training device; CPU when no GPU is usable).</param>
    /// <returns>The statistics.</returns>
    public static TraceSummary Run(LabelledImages images, Func<int, bool> isMajority, IReadOnlyList<(string Name, ClassifierNetworkTransformer Model)> models,
        string pngPath, TrainingConsole console, TrainingDevice device = TrainingDevice.Cpu)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(isMajority);
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(console);
        var defaults = new FlatDebiasTrainer.Options();
        var majority = images.Groups.Select(isMajority).ToArray();
        var panels = new List<HistogramPanel>();
        var statistics = new List<TraceStatistics>();
        foreach (var (name, model) in models)
        {
            var values = TraceDistribution.Compute(model.Network, images, defaults.TraceScope, defaults.TraceEstimator, TorchRuntime.ResolveDevice(device, fallbackToCpu: true));
            var major = values.Where((_, i) => majority[i]).ToArray();
            var minor = values.Where((_, i) => !majority[i]).ToArray();
            panels.Add(new HistogramPanel(name, [new ChartSeries("majority groups", major), new ChartSeries("minority groups", minor)]));
            statistics.Add(new TraceStatistics(name, Median(major), Median(minor), Mean(major), Mean(minor)));
        }
        Charts.Histograms(pngPath, $"Per-sample Fisher traces of training rows ({defaults.TraceScope} scope, {defaults.TraceEstimator} estimator)", "trace", panels);

        int majorityRows = majority.Count(m => m), minorityRows = majority.Length - majorityRows;
        console.Line($"Per-sample Fisher traces of training rows ({defaults.TraceScope} scope, {defaults.TraceEstimator} estimator; {majorityRows} majority, {minorityRows} minority rows):");
        console.Line(TextTable.Render(["model", "majority median", "minority median", "minority / majority (means)"],
            [.. statistics.Select(s => (IReadOnlyList<string>)[s.Model, Format.Number(s.MajorityMedian), Format.Number(s.MinorityMedian), Format.Ratio(s.MinorityMean, s.MajorityMean)])]));
        return new TraceSummary(defaults.TraceScope.ToString(), defaults.TraceEstimator.ToString(), majorityRows, minorityRows, statistics);
    }

    private static double Mean(double[] values) => values.Length == 0 ? double.NaN : values.Average();

    private static double Median(double[] values)
    {
        if (values.Length == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
