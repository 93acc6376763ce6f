using System.Text;

namespace MLNet.FlatDebias.Search;

/// <summary>
/// The finished trainings of one or more searches: one small CSV file per training in <c>runs/</c> of a result folder
/// (named by its <see cref="SearchTrialKey"/>), written to a temporary file and renamed, so that any number of processes
/// (a Slurm array's tasks) can add to it at once, a killed process leaves no half-written result, and a training already
/// there is never repeated. It also records each method's library defaults and refuses results of changed defaults or
/// changed search spaces, so that an old result is never taken for the current configuration's.
/// </summary>
public sealed class SearchTrialStore
{
    /// <summary>The name of the file in <see cref="Folder"/> that records each method's library defaults (draw 0).</summary>
    public const string DefaultsFileName = "defaults.txt";

    private readonly string _folder;

    private SearchTrialStore(string folder) => _folder = folder;

    /// <summary>The folder of the result files (<c>runs/</c> under the result folder).</summary>
    public string Folder => _folder;

    /// <summary>Opens (creating) <c>runs/</c> under <paramref name="resultFolder"/>. A folder from before the per-trial files
    /// (only a <c>runs.csv</c>) has its rows taken over once, so that it resumes.</summary>
    /// <param name="resultFolder">The result folder.</param>
    /// <returns>The store.</returns>
    public static SearchTrialStore Open(string resultFolder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(resultFolder);
        var store = new SearchTrialStore(Path.Combine(resultFolder, "runs"));
        bool existed = Directory.Exists(store._folder);
        Directory.CreateDirectory(store._folder);
        var legacy = Path.Combine(resultFolder, "runs.csv");
        if (!existed && File.Exists(legacy))
            foreach (var line in File.ReadAllLines(legacy).Skip(1).Where(l => l.Length > 0))
                store.Save(SearchTrial.FromCsv(line));
        return store;
    }

    /// <summary>Records the library's defaults of <paramref name="methods"/> beside the results, or checks them against
    /// those recorded: draw 0 trains with the library's defaults, so a result of draw 0 is the current defaults' result only
    /// when they have not changed since. A folder from before this record takes the current defaults.</summary>
    /// <param name="methods">Short method names.</param>
    /// <param name="advice">More to say about a changed method (e.g. other files to delete), or null.</param>
    /// <exception cref="InvalidOperationException">A method's defaults differ from those its results were trained with;
    /// the message names the method, both settings and the result files to delete.</exception>
    public void CheckDefaults(IEnumerable<string> methods, Func<string, string?>? advice = null)
    {
        ArgumentNullException.ThrowIfNull(methods);
        var path = Path.Combine(_folder, DefaultsFileName);
        var recorded = File.Exists(path)
            ? File.ReadAllLines(path).Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('\t', 2))
                .Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1])
            : [];
        var changed = new List<string>();
        bool added = false;
        foreach (var method in methods)
        {
            var now = MethodDefaults.Describe(DebiasMethodNames.Parse(method));
            if (!recorded.TryGetValue(method, out var then))
            {
                recorded[method] = now;
                added = true;
            }
            else if (then != now)
                changed.Add($"{method}: the results were trained with {{{then}}}, the library's defaults are now {{{now}}}; delete "
                    + $"{Path.Combine(_folder, $"*.{method}.*.d0.*.csv")} and the line '{method}' of {path} to train its draw 0 again"
                    + (advice?.Invoke(method) is { } more ? ", " + more : ""));
        }
        if (changed.Count > 0)
            throw new InvalidOperationException("The library's defaults changed since results in this folder were trained, so their draw 0 "
                + "is not the current defaults' result. Use another result folder, or: " + string.Join("; ", changed));
        if (!added) return;
        var temporary = Path.Combine(_folder, $".{DefaultsFileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllLines(temporary, ["# Each method's library defaults, which its draw-0 results here were trained with; other defaults refuse this folder.",
            .. recorded.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}\t{p.Value}")], new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Checks that every stored result of a random draw (1 to <paramref name="draws"/> - 1) of
    /// <paramref name="methods"/> was trained with the values <paramref name="spaces"/> give that draw now: a changed
    /// search-space line changes its draws, and their old results must not be taken for the new ones.</summary>
    /// <param name="spaces">The search spaces by short method name.</param>
    /// <param name="methods">Short method names.</param>
    /// <param name="draws">Draws per method.</param>
    /// <exception cref="InvalidOperationException">Results were trained with other values; the message names the method,
    /// the draws, both values and the result files to delete.</exception>
    public void CheckDrawValues(IReadOnlyDictionary<string, SearchSpace> spaces, IEnumerable<string> methods, int draws)
    {
        ArgumentNullException.ThrowIfNull(spaces);
        var names = methods.ToHashSet(StringComparer.Ordinal);
        var stale = All().Values
            .Where(r => r.Draw > 0 && r.Draw < draws && names.Contains(r.Method) && spaces.ContainsKey(r.Method))
            .Select(r => (Run: r, Now: SearchSpace.Describe(spaces[r.Method].Sample(r.Draw))))
            .Where(x => x.Run.Values.Split(SearchTrial.FailedMarker)[0] != x.Now)
            .GroupBy(x => x.Run.Method).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (stale.Count == 0) return;
        var parts = stale.Select(g =>
        {
            var numbers = g.Select(x => x.Run.Draw).Distinct().Order().ToList();
            var example = g.OrderBy(x => x.Run.Draw).First();
            return $"{g.Key}: draws {string.Join(", ", numbers)} were trained with other values (draw {example.Run.Draw}: {{{example.Run.Values}}}, "
                + $"the search space now gives {{{example.Now}}}); delete "
                + string.Join(" ", numbers.Select(d => Path.Combine(_folder, $"*.{g.Key}.*.d{d}.*.csv"))) + " to train them again";
        });
        throw new InvalidOperationException("The search spaces changed since results in this folder were trained. Use another result folder, or: "
            + string.Join("; ", parts));
    }

    /// <summary>The result of a training, or null when it has not finished (read from disk: another process may have
    /// written it since).</summary>
    /// <param name="key">The training.</param>
    /// <returns>Its result, or null.</returns>
    public SearchTrial? Find(SearchTrialKey key)
    {
        var path = Path.Combine(_folder, key.FileName);
        return File.Exists(path) ? Read(path) : null;
    }

    /// <summary>Every finished training.</summary>
    /// <returns>The results by key.</returns>
    public IReadOnlyDictionary<SearchTrialKey, SearchTrial> All()
        => Directory.EnumerateFiles(_folder, "*.csv").Select(Read).ToDictionary(r => r.Key);

    /// <summary>Adds a result; when another process finished the same training first, keeps that one.</summary>
    /// <param name="trial">The result.</param>
    /// <returns>False when the training was already there.</returns>
    public bool Save(SearchTrial trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var path = Path.Combine(_folder, trial.Key.FileName);
        var temporary = Path.Combine(_folder, $".{trial.Key.FileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, SearchTrial.Header + "\n" + trial.ToCsv() + "\n", new UTF8Encoding(false));
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

    private static SearchTrial Read(string path)
    {
        var lines = File.ReadAllLines(path);
        if (lines.Length < 2 || lines[0] != SearchTrial.Header)
            throw new InvalidDataException($"Result file '{path}' is not a search result (expected the header and one row); delete it to train it again.");
        try
        {
            return SearchTrial.FromCsv(lines[1]);
        }
        catch (FormatException e)
        {
            throw new InvalidDataException($"Result file '{path}': {e.Message} Delete it to train it again.", e);
        }
    }
}
