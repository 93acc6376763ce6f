using System.Globalization;

using MLNet.FlatDebias.Search;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>The two stages of a sweep. <see cref="Draws"/>: every draw with seed 0 and the defaults with the other seeds;
/// they need nothing. <see cref="Seeds"/>: the chosen draw's seeds and the protocol's defaults on the report-only sets;
/// which draw they train is read from the finished draws, so they start when the draws have finished.</summary>
internal enum BenchmarkStage
{
    Draws,
    Seeds,
}

/// <summary>What a planned run trains.</summary>
internal enum PlannedRunKind
{
    /// <summary>One draw with seed 0.</summary>
    Draw,

    /// <summary>The library's defaults (draw 0) with one of the other seeds.</summary>
    DefaultsSeed,

    /// <summary>The draw chosen on the set's validation split (by the regime) with one of the other seeds.</summary>
    ChosenSeed,

    /// <summary>The protocol's default (the best worst validation worst-group accuracy over the choosing sets) on a report-only
    /// set with one of the other seeds.</summary>
    ProtocolDefaultSeed,
}

/// <summary>One run of a stage, addressed by its index (0-based, dense, the same for the same arguments).</summary>
internal sealed record PlannedRun(BenchmarkStage Stage, int Index, string Set, string Method, SelectionRegime Regime, PlannedRunKind Kind, int? Draw, int Seed)
{
    /// <summary>The line <c>--list-runs</c> prints: stage, index, set, method, regime, draw (or how it is chosen), seed,
    /// tab-separated.</summary>
    public string Describe(BenchmarkPlan plan)
    {
        string draw = Kind switch
        {
            PlannedRunKind.ChosenSeed => "chosen",
            PlannedRunKind.ProtocolDefaultSeed => "protocol-default",
            _ => Draw!.Value.ToString(CultureInfo.InvariantCulture),
        };
        string values = Draw is { } d ? BenchmarkPlan.Describe(plan.Values(Method, d)) : "-";
        return string.Join('\t', Stage.ToString().ToLowerInvariant(), Index.ToString(CultureInfo.InvariantCulture), Set, Method, Regime.ToString(),
            draw, Seed.ToString(CultureInfo.InvariantCulture), values);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Stage.ToString().ToLowerInvariant()} run {Index} ({Set} {Method} {Regime} {(Draw is { } d ? $"draw {d}" : Kind == PlannedRunKind.ChosenSeed ? "chosen draw" : "protocol default")} seed {Seed})");
}

/// <summary>Every run of the benchmark for one command line, in a fixed order, split into the two stages; and which
/// training a stage-<see cref="BenchmarkStage.Seeds"/> run is, once the draws it depends on have finished.</summary>
internal sealed class BenchmarkSweep
{
    private readonly IReadOnlyList<string> _choose;
    private readonly IReadOnlyList<string> _report;
    private readonly BenchmarkPlan _plan;
    private readonly IReadOnlyList<PlannedRun> _draws;
    private readonly IReadOnlyList<PlannedRun> _seeds;

    public BenchmarkSweep(IReadOnlyList<string> choose, IReadOnlyList<string> report, BenchmarkPlan plan)
    {
        _choose = choose;
        _report = report;
        _plan = plan;
        var draws = new List<PlannedRun>();
        var seeds = new List<PlannedRun>();
        foreach (var set in Sets)
        {
            foreach (var regime in Enum.GetValues<SelectionRegime>())
            {
                foreach (var method in plan.Methods)
                {
                    for (int d = 0; d < plan.Draws; d++)
                        draws.Add(new PlannedRun(BenchmarkStage.Draws, draws.Count, set, method, regime, PlannedRunKind.Draw, d, 0));
                    foreach (int seed in plan.Seeds)
                        draws.Add(new PlannedRun(BenchmarkStage.Draws, draws.Count, set, method, regime, PlannedRunKind.DefaultsSeed, 0, seed));
                    foreach (int seed in plan.Seeds)
                        seeds.Add(new PlannedRun(BenchmarkStage.Seeds, seeds.Count, set, method, regime, PlannedRunKind.ChosenSeed, null, seed));
                }
            }
        }
        foreach (var set in choose.Count == 0 ? [] : report)
            foreach (var method in plan.Methods)
                foreach (int seed in plan.Seeds)
                    seeds.Add(new PlannedRun(BenchmarkStage.Seeds, seeds.Count, set, method, SelectionRegime.Groups, PlannedRunKind.ProtocolDefaultSeed, null, seed));
        _draws = draws;
        _seeds = seeds;
    }

    /// <summary>The choosing sets, then the report-only sets.</summary>
    public IReadOnlyList<string> Sets => [.. _choose, .. _report];

    /// <summary>The runs of a stage, by index.</summary>
    public IReadOnlyList<PlannedRun> Runs(BenchmarkStage stage) => stage == BenchmarkStage.Draws ? _draws : _seeds;

    /// <summary>The training a run is, or null with the reason when the draws it depends on are not all finished.</summary>
    /// <param name="run">A planned run.</param>
    /// <param name="results">The finished trainings.</param>
    /// <param name="reason">Why it cannot be resolved yet (null when it can).</param>
    public SearchTrialKey? Resolve(PlannedRun run, IReadOnlyDictionary<SearchTrialKey, SearchTrial> results, out string? reason)
    {
        reason = null;
        switch (run.Kind)
        {
            case PlannedRunKind.Draw:
            case PlannedRunKind.DefaultsSeed:
                return new SearchTrialKey(run.Set, run.Method, run.Regime, run.Draw!.Value, run.Seed);
            case PlannedRunKind.ChosenSeed:
            {
                var tried = SeedZeroDraws(run.Set, run.Method, run.Regime, results, out int missing);
                if (missing > 0)
                {
                    reason = $"{missing} of the {_plan.Draws} draws of {run.Set} {run.Method} {run.Regime} have not finished";
                    return null;
                }
                return new SearchTrialKey(run.Set, run.Method, run.Regime, BenchmarkPlan.Choose(tried), run.Seed);
            }
            default:
            {
                int missing = _choose.Sum(set =>
                {
                    SeedZeroDraws(set, run.Method, SelectionRegime.Groups, results, out int m);
                    return m;
                });
                if (missing > 0)
                {
                    reason = $"{missing} of the {_plan.Draws * _choose.Count} draws of {run.Method} on the choosing sets ({string.Join(", ", _choose)}) have not finished";
                    return null;
                }
                int draw = _plan.Recommend(results.Values, _choose)[run.Method];
                return new SearchTrialKey(run.Set, run.Method, SelectionRegime.Groups, draw, run.Seed);
            }
        }
    }

    /// <summary>The first planned run (draws before seeds, by index) that is the same training as <paramref name="key"/>;
    /// a later run with the same key leaves the training to it.</summary>
    public PlannedRun? Owner(SearchTrialKey key, IReadOnlyDictionary<SearchTrialKey, SearchTrial> results)
        => _draws.Concat(_seeds).FirstOrDefault(r => r.Set == key.SearchName && r.Method == key.Method && r.Seed == key.Seed
            && Resolve(r, results, out _) == key);

    /// <summary>The planned runs whose training has no result yet (or cannot be resolved yet), by stage and index; runs
    /// that are the same training are listed once.</summary>
    public IReadOnlyList<(PlannedRun Run, string Reason)> Missing(IReadOnlyDictionary<SearchTrialKey, SearchTrial> results)
    {
        var missing = new List<(PlannedRun, string)>();
        var seen = new HashSet<SearchTrialKey>();
        foreach (var run in _draws.Concat(_seeds))
        {
            var key = Resolve(run, results, out var reason);
            if (key is null) missing.Add((run, reason!));
            else if (!results.ContainsKey(key.Value) && seen.Add(key.Value)) missing.Add((run, $"{key} has no result"));
        }
        return missing;
    }

    private List<SearchTrial> SeedZeroDraws(string set, string method, SelectionRegime regime, IReadOnlyDictionary<SearchTrialKey, SearchTrial> results, out int missing)
    {
        var tried = new List<SearchTrial>();
        for (int d = 0; d < _plan.Draws; d++)
            if (results.TryGetValue(new SearchTrialKey(set, method, regime, d, 0), out var r)) tried.Add(r);
        missing = _plan.Draws - tried.Count;
        return tried;
    }
}
