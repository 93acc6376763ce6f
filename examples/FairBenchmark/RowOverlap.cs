using System.Globalization;
using System.Text;
using Microsoft.ML;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>Which training rows a method singles out: how many, and how many of them are minority (bias-conflicting)
/// rows.</summary>
/// <param name="Rows">The rows singled out (0-based, ascending).</param>
/// <param name="MinorityHits">How many of them are minority rows.</param>
internal sealed record RowSelection(IReadOnlyList<int> Rows, int MinorityHits)
{
    public static RowSelection Of(IEnumerable<int> rows, bool[] minority)
    {
        var sorted = rows.Order().ToList();
        return new RowSelection(sorted, sorted.Count(r => minority[r]));
    }

    /// <summary>Share of the minority rows that are singled out.</summary>
    public double Recall(int minorityRows) => minorityRows == 0 ? double.NaN : (double)MinorityHits / minorityRows;

    /// <summary>Share of the singled-out rows that are minority rows.</summary>
    public double Precision => Rows.Count == 0 ? double.NaN : (double)MinorityHits / Rows.Count;

    /// <summary>|A ∩ B| / |A ∪ B| (NaN when both are empty).</summary>
    public double Jaccard(RowSelection other)
    {
        var a = Rows.ToHashSet();
        int both = other.Rows.Count(a.Contains);
        int either = a.Count + other.Rows.Count - both;
        return either == 0 ? double.NaN : (double)both / either;
    }
}

/// <summary>Is FlatDebias JTT or PGD in all but name? On one set, the library's defaults of the three (seed 0) each
/// single out training rows from a biased reference model: FlatDebias the rows whose multiplier is positive at the end
/// (their trace, measured on the model frozen after the warm-up, is above the bound), JTT its error set, PGD the rows it
/// samples more often than uniformly. This measures how far the three sets of rows agree and how many minority rows
/// each holds.</summary>
internal sealed record RowOverlap(string Set, int TrainingRows, int MinorityRows, RowSelection Flat, RowSelection Jtt, RowSelection Pgd)
{
    /// <summary>The methods whose defaults the overlap trains.</summary>
    public static readonly string[] Methods = ["flatdebias", "jtt", "pgd"];

    /// <summary>The folder of the per-set measurements (<c>overlap/&lt;set&gt;.csv</c>) under an output folder.</summary>
    public static string Folder(string outFolder) => Path.Combine(outFolder, "overlap");

    public const string Header = "set,training_rows,minority_rows,flat_rows,flat_minority,jtt_rows,jtt_minority,pgd_rows,pgd_minority,jaccard_flat_jtt,jaccard_flat_pgd,jaccard_jtt_pgd";

    /// <summary>Trains the three methods' defaults on <paramref name="set"/> and compares the rows they single out.</summary>
    public static RowOverlap Measure(string name, StudySet set, TrainingDevice device)
    {
        var ml = new MLContext(0);
        var minority = set.TrainingMinority(ml);
        var search = BenchmarkMethods.Search(set, SearchSpace.Defaults, SelectionRegime.Groups, device);
        using var flat = search.Fit(set.Train, set.Validation, DebiasMethod.FlatDebias, 0, 0);
        using var jtt = search.Fit(set.Train, set.Validation, DebiasMethod.Jtt, 0, 0);
        using var pgd = search.Fit(set.Train, set.Validation, DebiasMethod.Pgd, 0, 0);
        var multipliers = flat.Rows?.Multipliers ?? throw new InvalidOperationException($"FlatDebias on {name} reported no row multipliers.");
        IReadOnlyList<int> FirstStage(ClassifierNetworkTransformer m, string method)
            => m.History.FirstStage?.UpweightedRows ?? throw new InvalidOperationException($"{method} on {name} reported no first stage.");
        return new RowOverlap(name, minority.Length, minority.Count(m => m),
            RowSelection.Of(Enumerable.Range(0, multipliers.Count).Where(i => multipliers[i] > 0), minority),
            RowSelection.Of(FirstStage(jtt, "JTT"), minority), RowSelection.Of(FirstStage(pgd, "PGD"), minority));
    }

    public string ToCsv() => string.Join(",", Set, I(TrainingRows), I(MinorityRows), I(Flat.Rows.Count), I(Flat.MinorityHits), I(Jtt.Rows.Count), I(Jtt.MinorityHits),
        I(Pgd.Rows.Count), I(Pgd.MinorityHits), F(Flat.Jaccard(Jtt)), F(Flat.Jaccard(Pgd)), F(Jtt.Jaccard(Pgd)));

    /// <summary>The table of <c>overlap.md</c>.</summary>
    public static string Markdown(IReadOnlyList<RowOverlap> rows)
    {
        var md = new StringBuilder();
        md.AppendLine("Rows singled out by the library's defaults (seed 0): FlatDebias = positive multiplier at the end, JTT = error set, PGD = sampled above uniform. Per method: % of training rows, % of the minority rows caught (recall), % minority among them (precision). Jaccard = |A ∩ B| / |A ∪ B| of the row sets.");
        md.AppendLine();
        md.AppendLine("| set | minority rows | FlatDebias: rows / recall / precision | JTT: rows / recall / precision | PGD: rows / recall / precision | Jaccard Flat-JTT | Jaccard Flat-PGD | Jaccard JTT-PGD |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            string S(RowSelection s) => $"{P((double)s.Rows.Count / r.TrainingRows)} / {P(s.Recall(r.MinorityRows))} / {P(s.Precision)}";
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Set} | {r.MinorityRows} of {r.TrainingRows} | {S(r.Flat)} | {S(r.Jtt)} | {S(r.Pgd)} | {r.Flat.Jaccard(r.Jtt):F2} | {r.Flat.Jaccard(r.Pgd):F2} | {r.Jtt.Jaccard(r.Pgd):F2} |"));
        }
        return md.ToString();
    }

    /// <summary>Measures every set that has no <c>overlap/&lt;set&gt;.csv</c> yet, then writes <c>overlap.csv</c> and
    /// <c>overlap.md</c>.</summary>
    public static void Run(IReadOnlyList<string> sets, BenchmarkSets data, string folder, TrainingDevice device, TextWriter output)
    {
        var perSet = Folder(folder);
        Directory.CreateDirectory(perSet);
        var rows = new List<RowOverlap>();
        foreach (var name in sets)
        {
            var path = Path.Combine(perSet, $"{name}.csv");
            if (!File.Exists(path))
            {
                var measured = Measure(name, data.Get(name), device);
                var temporary = $"{path}.{Environment.ProcessId}.tmp";
                File.WriteAllLines(temporary, [Header, measured.ToCsv(), .. new[] { "flat", "jtt", "pgd" }.Zip([measured.Flat, measured.Jtt, measured.Pgd],
                    (m, s) => $"#{m}:{string.Join(' ', s.Rows.Select(I))}")], new UTF8Encoding(false));
                File.Move(temporary, path, overwrite: true);
                output.WriteLine($"{name}: row overlap measured");
            }
            rows.Add(Read(path));
        }
        File.WriteAllLines(Path.Combine(folder, "overlap.csv"), [Header, .. rows.Select(r => r.ToCsv())], new UTF8Encoding(false));
        var md = Markdown(rows);
        File.WriteAllText(Path.Combine(folder, "overlap.md"), md, new UTF8Encoding(false));
        output.WriteLine(md);
    }

    private static RowOverlap Read(string path)
    {
        var lines = File.ReadAllLines(path);
        var f = lines[1].Split(',');
        int N(int i) => int.Parse(f[i], CultureInfo.InvariantCulture);
        RowSelection S(string method, int hits)
        {
            var list = lines.First(l => l.StartsWith($"#{method}:", StringComparison.Ordinal))[(method.Length + 2)..];
            return new RowSelection([.. list.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => int.Parse(v, CultureInfo.InvariantCulture))], hits);
        }
        return new RowOverlap(f[0], N(1), N(2), S("flat", N(4)), S("jtt", N(6)), S("pgd", N(8)));
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static string P(double v) => double.IsNaN(v) ? "-" : (100 * v).ToString("F1", CultureInfo.InvariantCulture);
}
