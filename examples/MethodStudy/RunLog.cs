using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Examples.MethodStudy;

/// <summary>One training run's outcome on test, with its epoch curve.</summary>
internal sealed record RunResult(string Set, string Variant, string Spec, int Seed, double TestAverage, double TestWorstGroup,
    double TestMeanGroup, double ValidationWorstGroup, int SelectedEpoch, double SecondsPerEpoch, double Seconds,
    string ValidationWorstGroupByEpoch, string MeanTraceByEpoch, string ActiveShareByEpoch,
    double MinorityPrecision, double MinorityRecall, double TraceRatio, string GroupTracesByEpoch = "")
{
    public const string Header = "set,variant,seed,test_avg,test_wga,test_mean_group,val_wga,selected_epoch,s_per_epoch,seconds,val_wga_by_epoch,mean_trace_by_epoch,active_share_by_epoch,minority_precision,minority_recall,trace_ratio,minority_majority_trace_by_epoch,bound,multipliers_by_epoch,spec";

    /// <summary>The trace bound (NaN for methods without one).</summary>
    public double Bound { get; init; } = double.NaN;

    /// <summary>Per epoch "minority mean:majority mean:minority weight share:share at cap" of the multipliers (empty without).</summary>
    public string MultipliersByEpoch { get; init; } = "";

    public string ToCsv() => string.Join(",", Set, Variant, Seed.ToString(CultureInfo.InvariantCulture), F(TestAverage), F(TestWorstGroup),
        F(TestMeanGroup), F(ValidationWorstGroup), SelectedEpoch.ToString(CultureInfo.InvariantCulture), F(SecondsPerEpoch), F(Seconds),
        ValidationWorstGroupByEpoch, MeanTraceByEpoch, ActiveShareByEpoch, F(MinorityPrecision), F(MinorityRecall), F(TraceRatio), GroupTracesByEpoch, F(Bound), MultipliersByEpoch, "\"" + Spec + "\"");

    public static RunResult FromCsv(string line)
    {
        var quote = line.IndexOf('"');
        var spec = line[(quote + 1)..^1];
        var f = line[..(quote - 1)].Split(',');
        double D(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        return new RunResult(f[0], f[1], spec, int.Parse(f[2], CultureInfo.InvariantCulture), D(3), D(4), D(5), D(6),
            int.Parse(f[7], CultureInfo.InvariantCulture), D(8), D(9), f[10], f[11], f[12],
            f.Length > 13 ? D(13) : double.NaN, f.Length > 14 ? D(14) : double.NaN, f.Length > 15 ? D(15) : double.NaN, f.Length > 16 ? f[16] : "")
        {
            Bound = f.Length > 17 ? D(17) : double.NaN,
            MultipliersByEpoch = f.Length > 18 ? f[18] : "",
        };
    }

    public string Describe() => $"{Set,-8} {Variant,-24} seed {Seed}: test avg {TestAverage:F3}, test WGA {TestWorstGroup:F3} (val WGA {ValidationWorstGroup:F3}, epoch {SelectedEpoch}), {SecondsPerEpoch:F1} s/epoch" +
        (double.IsNaN(MinorityPrecision) ? "" : $"; upweighted rows: {MinorityPrecision:P0} minority, {MinorityRecall:P0} of minority rows; trace minority/majority {TraceRatio:F1}");

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>The study's run log: a CSV appended after every run, read back to skip finished runs.</summary>
internal sealed class RunLog
{
    private readonly string path;
    private readonly List<RunResult> runs;

    private RunLog(string path, List<RunResult> runs)
    {
        this.path = path;
        this.runs = runs;
    }

    public IReadOnlyList<RunResult> All => runs;

    public static RunLog Open(string path)
    {
        var runs = new List<RunResult>();
        if (File.Exists(path)) runs.AddRange(File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).Select(RunResult.FromCsv));
        else File.WriteAllText(path, RunResult.Header + "\n", new UTF8Encoding(false));
        return new RunLog(path, runs);
    }

    public bool Has(string set, string variant, int seed) => runs.Any(r => r.Set == set && r.Variant == variant && r.Seed == seed);

    public void Append(RunResult result)
    {
        runs.Add(result);
        File.AppendAllText(path, result.ToCsv() + "\n", new UTF8Encoding(false));
    }
}
