using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>One training run of the benchmark and its outcome (validation scores choose; test scores only report).</summary>
internal sealed record BenchmarkRun(string Set, string Method, SelectionRegime Regime, int Draw, int Seed, string Values,
    double ValidationWorstGroup, double ValidationWorstClass, double ValidationAccuracy,
    double TestAccuracy, double TestWorstGroup, double TestWorstClass, double Seconds)
{
    public const string Header = "set,method,regime,draw,seed,val_wga,val_worst_class,val_acc,test_acc,test_wga,test_worst_class,seconds,values";

    /// <summary>The validation score the regime selects by.</summary>
    public double SelectionScore => Regime == SelectionRegime.Groups ? ValidationWorstGroup : ValidationWorstClass;

    public string ToCsv() => string.Join(",", Set, Method, Regime, I(Draw), I(Seed), F(ValidationWorstGroup), F(ValidationWorstClass), F(ValidationAccuracy),
        F(TestAccuracy), F(TestWorstGroup), F(TestWorstClass), F(Seconds), "\"" + Values + "\"");

    public static BenchmarkRun FromCsv(string line)
    {
        int quote = line.IndexOf('"', StringComparison.Ordinal);
        var f = line[..(quote - 1)].Split(',');
        double D(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        return new BenchmarkRun(f[0], f[1], Enum.Parse<SelectionRegime>(f[2]), int.Parse(f[3], CultureInfo.InvariantCulture), int.Parse(f[4], CultureInfo.InvariantCulture),
            line[(quote + 1)..^1], D(5), D(6), D(7), D(8), D(9), D(10), D(11));
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Set,-9} {Method,-17} {Regime,-8} draw {Draw} seed {Seed}: val wga {ValidationWorstGroup:F3} worst class {ValidationWorstClass:F3}; test wga {TestWorstGroup:F3} acc {TestAccuracy:F3} ({Seconds:F1} s)");

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>The benchmark's run log (<c>runs.csv</c>): appended after every run, read back so that a stopped benchmark
/// resumes where it stopped.</summary>
internal sealed class BenchmarkLog
{
    private readonly string _path;
    private readonly Dictionary<(string, string, SelectionRegime, int, int), BenchmarkRun> _runs;

    private BenchmarkLog(string path, IEnumerable<BenchmarkRun> runs)
    {
        _path = path;
        _runs = runs.ToDictionary(r => (r.Set, r.Method, r.Regime, r.Draw, r.Seed));
    }

    public IReadOnlyCollection<BenchmarkRun> All => _runs.Values;

    public static BenchmarkLog Open(string path)
    {
        if (!File.Exists(path))
        {
            File.WriteAllText(path, BenchmarkRun.Header + "\n", new UTF8Encoding(false));
            return new BenchmarkLog(path, []);
        }
        return new BenchmarkLog(path, File.ReadAllLines(path).Skip(1).Where(l => l.Length > 0).Select(BenchmarkRun.FromCsv));
    }

    public BenchmarkRun? Find(string set, string method, SelectionRegime regime, int draw, int seed)
        => _runs.GetValueOrDefault((set, method, regime, draw, seed));

    public void Append(BenchmarkRun run)
    {
        _runs[(run.Set, run.Method, run.Regime, run.Draw, run.Seed)] = run;
        File.AppendAllText(_path, run.ToCsv() + "\n", new UTF8Encoding(false));
    }
}
