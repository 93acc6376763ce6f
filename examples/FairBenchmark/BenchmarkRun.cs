using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>One training run of the benchmark and its outcome (validation scores choose; test scores only report).</summary>
internal sealed record BenchmarkRun(string Set, string Method, SelectionRegime Regime, int Draw, int Seed, string Values,
    double ValidationWorstGroup, double ValidationWorstClass, double ValidationAccuracy,
    double TestAccuracy, double TestWorstGroup, double TestWorstClass, double Seconds)
{
    public const string Header = "set,method,regime,draw,seed,val_wga,val_worst_class,val_acc,test_acc,test_wga,test_worst_class,seconds,values";

    /// <summary>What follows a failed run's values, before the reason.</summary>
    public const string FailedMarker = " FAILED: ";

    /// <summary>Which training this is.</summary>
    public RunKey Key => new(Set, Method, Regime, Draw, Seed);

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

/// <summary>The finished trainings: one small CSV file per training in <c>runs/</c> of the output folder (named by its
/// <see cref="RunKey"/>), written to a temporary file and renamed, so that any number of processes (a job array's tasks)
/// can add to it at once, a killed process leaves no half-written result, and a training already there is never
/// repeated.</summary>
internal sealed class ResultStore
{
    private readonly string _folder;

    private ResultStore(string folder) => _folder = folder;

    /// <summary>The folder of the result files.</summary>
    public string Folder => _folder;

    /// <summary>Opens (creating) <c>runs/</c> under <paramref name="outFolder"/>. An output folder from before the
    /// per-run files (only a <c>runs.csv</c>) has its rows taken over once, so that it resumes.</summary>
    public static ResultStore Open(string outFolder)
    {
        var store = new ResultStore(Path.Combine(outFolder, "runs"));
        bool existed = Directory.Exists(store._folder);
        Directory.CreateDirectory(store._folder);
        var legacy = Path.Combine(outFolder, "runs.csv");
        if (!existed && File.Exists(legacy))
            foreach (var line in File.ReadAllLines(legacy).Skip(1).Where(l => l.Length > 0))
                store.Save(BenchmarkRun.FromCsv(line));
        return store;
    }

    /// <summary>The name of the file in the result folder that records each method's library defaults (draw 0).</summary>
    public const string DefaultsFileName = "defaults.txt";

    /// <summary>Records the library's defaults of <paramref name="methods"/> beside the results, or checks them against
    /// those recorded: draw 0 trains with the library's defaults, so a result of draw 0 is the current defaults' result only
    /// when they have not changed since. A folder from before this record takes the current defaults.</summary>
    /// <exception cref="InvalidOperationException">A method's defaults differ from those its results were trained with;
    /// the message names the method, both settings and the result files to delete.</exception>
    public void CheckDefaults(IEnumerable<string> methods)
    {
        var path = Path.Combine(_folder, DefaultsFileName);
        var recorded = File.Exists(path)
            ? File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('\t', 2))
                .Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1])
            : [];
        var changed = new List<string>();
        bool added = false;
        foreach (var method in methods)
        {
            var now = BenchmarkMethods.LibraryDefaults(method);
            if (!recorded.TryGetValue(method, out var then))
            {
                recorded[method] = now;
                added = true;
            }
            else if (then != now)
                changed.Add($"{method}: the results were trained with {{{then}}}, the library's defaults are now {{{now}}}; delete "
                    + $"{Path.Combine(_folder, $"*.{method}.*.d0.*.csv")} and the line '{method}' of {path} to train its draw 0 again"
                    + (RowOverlap.Methods.Contains(method) ? $", and {RowOverlap.Folder(Path.GetDirectoryName(_folder)!)} (the row overlap trains its defaults)" : ""));
        }
        if (changed.Count > 0)
            throw new InvalidOperationException("The library's defaults changed since results in this folder were trained, so their draw 0 "
                + "is not the current defaults' result. Use another --out, or: " + string.Join("; ", changed));
        if (!added) return;
        var temporary = Path.Combine(_folder, $".{DefaultsFileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllLines(temporary, ["# Each method's library defaults, which its draw-0 results here were trained with; other defaults refuse this folder.",
            .. recorded.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}\t{p.Value}")], new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Checks that every stored result of a random draw (1 and up) was trained with the values the search spaces give
    /// that draw now: a changed search-space line changes its draws, and their old results must not be taken for the new ones.</summary>
    /// <exception cref="InvalidOperationException">Results were trained with other values; the message names the method,
    /// the draws, both values and the result files to delete.</exception>
    public void CheckDrawValues(BenchmarkPlan plan)
    {
        var stale = All().Values
            .Where(r => r.Draw > 0 && r.Draw < plan.Draws && plan.Methods.Contains(r.Method))
            .Select(r => (Run: r, Now: BenchmarkPlan.Describe(plan.Values(r.Method, r.Draw))))
            .Where(x => x.Run.Values.Split(BenchmarkRun.FailedMarker)[0] != x.Now)
            .GroupBy(x => x.Run.Method).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (stale.Count == 0) return;
        var parts = stale.Select(g =>
        {
            var draws = g.Select(x => x.Run.Draw).Distinct().Order().ToList();
            var example = g.OrderBy(x => x.Run.Draw).First();
            return $"{g.Key}: draws {string.Join(", ", draws)} were trained with other values (draw {example.Run.Draw}: {{{example.Run.Values}}}, "
                + $"the search space now gives {{{example.Now}}}); delete "
                + string.Join(" ", draws.Select(d => Path.Combine(_folder, $"*.{g.Key}.*.d{d}.*.csv"))) + " to train them again";
        });
        throw new InvalidOperationException("The search spaces changed since results in this folder were trained. Use another --out, or: "
            + string.Join("; ", parts));
    }

    /// <summary>The result of a training, or null when it has not finished (read from disk: another process may have
    /// written it since).</summary>
    public BenchmarkRun? Find(RunKey key)
    {
        var path = Path.Combine(_folder, key.FileName);
        return File.Exists(path) ? Read(path) : null;
    }

    /// <summary>Every finished training.</summary>
    public IReadOnlyDictionary<RunKey, BenchmarkRun> All()
        => Directory.EnumerateFiles(_folder, "*.csv").Select(Read).ToDictionary(r => r.Key);

    /// <summary>Adds a result; when another process finished the same training first, keeps that one.</summary>
    /// <returns>False when the training was already there.</returns>
    public bool Save(BenchmarkRun run)
    {
        var path = Path.Combine(_folder, run.Key.FileName);
        var temporary = Path.Combine(_folder, $".{run.Key.FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, BenchmarkRun.Header + "\n" + run.ToCsv() + "\n", new UTF8Encoding(false));
        try
        {
            File.Move(temporary, path, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return false;
        }
    }

    private static BenchmarkRun Read(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length < 2 || lines[0] != BenchmarkRun.Header)
            throw new InvalidDataException($"Result file '{path}' is not a benchmark result (expected the header and one row); delete it to train the run again.");
        return BenchmarkRun.FromCsv(lines[1]);
    }
}
