using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.Waterbirds;

/// <summary>The paper's per-sample trace (full network, exact estimator) of training rows under one model: minority
/// (bias-conflicting) rows against majority rows, and whether the high-trace rows are the minority rows.</summary>
/// <param name="Model">What was measured, e.g. <c>ERM after epoch 1 (ImageNet start)</c>.</param>
/// <param name="MajorityRows">Majority rows measured.</param>
/// <param name="MinorityRows">Minority rows measured.</param>
/// <param name="MajorityMedian">Median trace of the majority rows.</param>
/// <param name="MinorityMedian">Median trace of the minority rows.</param>
/// <param name="MajorityMean">Mean trace of the majority rows.</param>
/// <param name="MinorityMean">Mean trace of the minority rows.</param>
/// <param name="Quantile">The quantile of all measured rows' traces above which a row counts as high-trace.</param>
/// <param name="MinorityRecall">Share of the minority rows that are high-trace (1: the trace singles out every one;
/// <c>1 - Quantile</c> is what a trace unrelated to the groups gives).</param>
/// <param name="MinorityPrecision">Share of the high-trace rows that are minority rows (compare with the minority rows'
/// share of the measured rows).</param>
public sealed record PaperTraceStatistics(string Model, int MajorityRows, int MinorityRows, double MajorityMedian, double MinorityMedian,
    double MajorityMean, double MinorityMean, double Quantile, double MinorityRecall, double MinorityPrecision)
{
    /// <summary>Minority median over majority median (above 1: the minority rows' traces are larger).</summary>
    public double MedianRatio => MinorityMedian / MajorityMedian;

    /// <summary>The statistics of <paramref name="traces"/> (NaN entries are rows not measured and are left out).</summary>
    /// <param name="model">What was measured.</param>
    /// <param name="traces">One trace per row.</param>
    /// <param name="majority">Whether each row is a majority row.</param>
    /// <param name="quantile">The high-trace quantile, in (0, 1).</param>
    /// <returns>The statistics; NaN where a side has no row.</returns>
    public static PaperTraceStatistics Of(string model, IReadOnlyList<double> traces, IReadOnlyList<bool> majority, double quantile)
    {
        ArgumentNullException.ThrowIfNull(traces);
        ArgumentNullException.ThrowIfNull(majority);
        if (traces.Count != majority.Count) throw new ArgumentException($"{traces.Count} traces for {majority.Count} rows.", nameof(traces));
        var measured = Enumerable.Range(0, traces.Count).Where(i => double.IsFinite(traces[i])).ToArray();
        var major = measured.Where(i => majority[i]).Select(i => traces[i]).ToArray();
        var minor = measured.Where(i => !majority[i]).Select(i => traces[i]).ToArray();
        double threshold = QuantileOf(measured.Select(i => traces[i]).ToArray(), quantile);
        int highMinority = minor.Count(t => t > threshold);
        int high = measured.Count(i => traces[i] > threshold);
        return new PaperTraceStatistics(model, major.Length, minor.Length, Median(major), Median(minor), Mean(major), Mean(minor), quantile,
            minor.Length == 0 ? double.NaN : (double)highMinority / minor.Length, high == 0 ? double.NaN : (double)highMinority / high);
    }

    /// <summary>The <paramref name="q"/>-quantile by linear interpolation between order statistics (NaN when empty).</summary>
    internal static double QuantileOf(double[] values, double q)
    {
        if (values.Length == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        double position = q * (sorted.Length - 1);
        int lower = (int)Math.Floor(position);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }

    private static double Median(double[] values) => QuantileOf(values, 0.5);

    private static double Mean(double[] values) => values.Length == 0 ? double.NaN : values.Average();
}

/// <summary>How the multipliers of one epoch fell on minority and majority rows.</summary>
/// <param name="Epoch">The epoch, 1-based, counted from the start of the run (or of its resume).</param>
/// <param name="MinorityMean">Mean multiplier of the minority rows.</param>
/// <param name="MajorityMean">Mean multiplier of the majority rows.</param>
/// <param name="MinorityWeightShare">The minority rows' share of the training weight <c>sum (1 + lambda)</c> (their share of
/// the rows when every multiplier is 0).</param>
/// <param name="ShareAtCap">Share of all rows whose multiplier is at the cap.</param>
public sealed record EpochMultipliers(int Epoch, double MinorityMean, double MajorityMean, double MinorityWeightShare, double ShareAtCap);

/// <summary>The paper's trace of every training row as one epoch's steps measured it.</summary>
/// <param name="Epoch">The epoch, 1-based, counted from the start of the run (or of its resume); 0 for the traces
/// that set the bound (the warm-up's).</param>
/// <param name="Traces">The statistics.</param>
public sealed record EpochTraces(int Epoch, PaperTraceStatistics Traces);

/// <summary>Minority and majority patterns of a run's <see cref="RowDiagnostics"/>.</summary>
internal static class RowPatterns
{
    public static IReadOnlyList<EpochTraces> Traces(RowDiagnostics rows, int[] groups)
    {
        var majority = groups.Select(FineTuneExperiment.IsMajority).ToArray();
        var result = new List<EpochTraces>();
        bool firstEpochMeasured = rows.TracesByEpoch.Count > 0 && rows.TracesByEpoch[0].Any(float.IsFinite);
        if (!firstEpochMeasured && rows.Traces.Count == groups.Length && rows.Traces.Any(float.IsFinite))
            result.Add(new EpochTraces(0, PaperTraceStatistics.Of("bound's traces", [.. rows.Traces.Select(t => (double)t)], majority, FineTuneExperiment.HighTraceQuantile)));
        for (int e = 0; e < rows.TracesByEpoch.Count; e++)
        {
            var epoch = rows.TracesByEpoch[e];
            if (epoch.Count != groups.Length || !epoch.Any(float.IsFinite)) continue;
            result.Add(new EpochTraces(e + 1, PaperTraceStatistics.Of($"epoch {e + 1}", [.. epoch.Select(t => (double)t)], majority, FineTuneExperiment.HighTraceQuantile)));
        }
        return result;
    }

    public static IReadOnlyList<EpochMultipliers> Multipliers(RowDiagnostics rows, int[] groups, double cap)
    {
        var result = new List<EpochMultipliers>();
        for (int e = 0; e < rows.MultipliersByEpoch.Count; e++)
        {
            var lambda = rows.MultipliersByEpoch[e];
            if (lambda.Count != groups.Length) continue;
            double minority = 0, majority = 0, minorityWeight = 0, weight = 0;
            int minorityRows = 0, majorityRows = 0, atCap = 0;
            for (int i = 0; i < groups.Length; i++)
            {
                double l = lambda[i];
                weight += 1 + l;
                if (l >= cap * (1 - 1e-6)) atCap++;
                if (FineTuneExperiment.IsMajority(groups[i])) { majority += l; majorityRows++; }
                else { minority += l; minorityRows++; minorityWeight += 1 + l; }
            }
            result.Add(new EpochMultipliers(e + 1, minorityRows == 0 ? double.NaN : minority / minorityRows, majorityRows == 0 ? double.NaN : majority / majorityRows,
                minorityWeight / weight, (double)atCap / groups.Length));
        }
        return result;
    }
}

/// <summary>One finished training of <see cref="FineTuneExperiment"/>, as written to its <c>unit.json</c>.</summary>
public sealed record FineTuneUnit
{
    /// <summary>The unit's folder name under <c>runs/</c>.</summary>
    public required string Key { get; init; }

    /// <summary>The method.</summary>
    public required string Method { get; init; }

    /// <summary>FlatDebias paper-exact: the trace quantile of its bound.</summary>
    public double? Quantile { get; init; }

    /// <summary>The saved model (image paths in), relative to the output folder.</summary>
    public required string ModelFile { get; init; }

    /// <summary>The selected epoch, 1-based.</summary>
    public required int SelectedEpoch { get; init; }

    /// <summary>Validation worst-group accuracy at the selected epoch.</summary>
    public double? ValidationWorstGroupAccuracy { get; init; }

    /// <summary>Validation accuracy at the selected epoch.</summary>
    public double? ValidationAccuracy { get; init; }

    /// <summary>FlatDebias: the bound epsilon.</summary>
    public double? TraceBound { get; init; }

    /// <summary>Test accuracy over all rows.</summary>
    public required double TestAverageAccuracy { get; init; }

    /// <summary>Test group accuracies weighted by the training group shares.</summary>
    public required double TestAdjustedAverageAccuracy { get; init; }

    /// <summary>Test worst-group accuracy.</summary>
    public required double TestWorstGroupAccuracy { get; init; }

    /// <summary>The test group with the lowest accuracy.</summary>
    public required string TestWorstGroup { get; init; }

    /// <summary>Test accuracy per group.</summary>
    public required IReadOnlyList<GroupResult> TestGroups { get; init; }

    /// <summary>Wall-clock seconds of the training (of its last process, when it resumed).</summary>
    public required double Seconds { get; init; }

    /// <summary>Seconds of each epoch (training and validation).</summary>
    public required IReadOnlyList<double> EpochSeconds { get; init; }

    /// <summary>Validation worst-group accuracy after each epoch.</summary>
    public required IReadOnlyList<double> ValidationWorstGroupByEpoch { get; init; }

    /// <summary>The paper's traces of the trace rows under the selected model.</summary>
    public required PaperTraceStatistics SelectedTraces { get; init; }

    /// <summary>FlatDebias: every training row's trace as the steps measured it, epoch by epoch.</summary>
    public IReadOnlyList<EpochTraces> TrainingTraces { get; init; } = [];

    /// <summary>FlatDebias: the multipliers' pattern, epoch by epoch.</summary>
    public IReadOnlyList<EpochMultipliers> Multipliers { get; init; } = [];
}
