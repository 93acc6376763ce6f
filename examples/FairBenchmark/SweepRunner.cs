using System.Globalization;
using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Datasets.Mnist;

using MLNet.FlatDebias.Search;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>The benchmark's sets, built when a run first needs one (a process that only skips finished runs reads no
/// MNIST and writes no image).</summary>
internal sealed class BenchmarkSets(StudyScale scale, string? mnistFolder, string dataFolder)
{
    private readonly MLContext _ml = new(0);
    private readonly Dictionary<string, StudySet> _sets = [];
    private MnistDataset? _mnist;

    /// <summary>The set named <paramref name="name"/>, built (and its files written) on first use.</summary>
    public StudySet Get(string name)
    {
        if (!_sets.TryGetValue(name, out var set))
        {
            _mnist ??= MnistDataset.Load(mnistFolder);
            _sets[name] = set = StudySet.Create(name, _ml, _mnist, scale, dataFolder);
        }
        return set;
    }
}

/// <summary>Trains planned runs whose results are not there yet, one after another, and saves each result.</summary>
internal sealed class SweepRunner(BenchmarkSweep sweep, BenchmarkPlan plan, SearchTrialStore store, BenchmarkSets sets, TrainingDevice device, TextWriter output)
{
    /// <summary>Runs <paramref name="runs"/> in order: a finished training is skipped, a training that an earlier run index
    /// also is (e.g. a chosen draw that is the defaults) is left to that index.</summary>
    /// <returns>0, or 1 when a run of stage seeds could not start because draws it needs have not finished.</returns>
    public int Execute(IEnumerable<PlannedRun> runs)
    {
        int blocked = 0;
        // Which training a stage-seeds run is depends only on the finished draws: read every result once, and again only
        // when a run cannot be resolved from what was read (another process may have finished a draw since).
        IReadOnlyDictionary<SearchTrialKey, SearchTrial>? results = null;
        foreach (var run in runs)
        {
            if (run.Stage == BenchmarkStage.Seeds) results ??= store.All();
            var key = sweep.Resolve(run, results ?? new Dictionary<SearchTrialKey, SearchTrial>(), out var reason);
            if (key is null && results is not null)
            {
                results = store.All();
                key = sweep.Resolve(run, results, out reason);
            }
            if (key is not { } k)
            {
                Console.Error.WriteLine($"error: {run} cannot start: {reason}; run --stage draws first.");
                blocked++;
                continue;
            }
            if (store.Find(k) is not null)
            {
                output.WriteLine($"{run}: finished before ({k})");
                continue;
            }
            if (results is not null && sweep.Owner(k, results) is { } owner && owner != run)
            {
                output.WriteLine($"{run}: the same training as {owner}, which trains it");
                continue;
            }
            var result = FairBenchmarkProgram.Train(sets.Get(k.SearchName), plan, k, device);
            store.Save(result);
            output.WriteLine(result.ToString());
        }
        return blocked == 0 ? 0 : 1;
    }
}

/// <summary>Parses <c>--run-index</c>: indices and ranges separated by commas (<c>7</c>, <c>0-99</c>, <c>0,2,4-6</c>).</summary>
internal static class RunIndexList
{
    /// <summary>The indices, in the order given, each checked against the stage's run count.</summary>
    /// <exception cref="FormatException">Not a list of indices, or an index outside the stage.</exception>
    public static IReadOnlyList<int> Parse(string text, int count, BenchmarkStage stage)
    {
        var indices = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ends = part.Split('-');
            if (ends.Length > 2 || !ends.All(e => int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new FormatException($"--run-index '{text}': '{part}' is not an index or a range such as 0-99");
            int first = int.Parse(ends[0], CultureInfo.InvariantCulture), last = int.Parse(ends[^1], CultureInfo.InvariantCulture);
            if (last < first) throw new FormatException($"--run-index '{text}': the range '{part}' is empty");
            if (last >= count)
                throw new FormatException($"--run-index '{text}': index {last} is outside stage {stage.ToString().ToLowerInvariant()}, which has {count} runs (0-{count - 1}) for these arguments");
            for (int i = first; i <= last; i++) indices.Add(i);
        }
        if (indices.Count == 0) throw new FormatException($"--run-index '{text}' names no index");
        return indices;
    }
}
