using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Search;

/// <summary>
/// A search over debiasing methods on the user's data: the fair benchmark's protocol as one call
/// (<c>mlContext.MulticlassClassification.CreateMethodSearch(options).Execute(train, validation)</c>). Every method gets the
/// same number of draws from its search space (draw 0 is its defaults; round by round, so a cancelled search has covered
/// every method), each trained with seed 0 and scored on validation; the best draw by the regime's rule
/// (<see cref="SearchRule"/>) is trained again with <see cref="MethodSearchOptions.Seeds"/>, and the result holds its seed-0
/// model (an ordinary fitted transformer), the leaderboard of every training and the seeds' spread.
/// With a <see cref="MethodSearchOptions.ResultFolder"/> the search resumes (a finished training is never trained again),
/// is cancelled between trainings without losing one, and shares its trainings with other processes running it on the same folder.
/// </summary>
public sealed class MethodSearch
{
    private const string DrawsStage = "draws";
    private const string SeedsStage = "seeds";
    private static readonly TimeSpan WaitPoll = TimeSpan.FromMilliseconds(500);

    internal MethodSearch(MethodSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    /// <summary>The search's options.</summary>
    public MethodSearchOptions Options { get; }

    /// <summary>The methods this search tries on <paramref name="trainData"/>, and why the others are left out.</summary>
    /// <param name="trainData">The training rows.</param>
    /// <returns>The methods in order, and each left-out method with the reason.</returns>
    public (IReadOnlyList<DebiasMethod> Methods, IReadOnlyDictionary<DebiasMethod, string> LeftOut) ResolveMethods(IDataView trainData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        var o = Options;
        bool trainingGroups = o.GroupColumnName is { } g && trainData.Schema.GetColumnOrNull(g) is not null;
        if (o.Methods is { } asked)
        {
            if (asked.Contains(DebiasMethod.GroupDro) && o.Regime == SelectionRegime.Groups && !trainingGroups)
                throw new ArgumentException($"MethodSearchOptions.Methods: GroupDRO trains on the training rows' groups, and the training set has no column '{o.GroupColumnName}'.", nameof(trainData));
            return ([.. asked], new Dictionary<DebiasMethod, string>());
        }
        var methods = new List<DebiasMethod>();
        var leftOut = new Dictionary<DebiasMethod, string>();
        foreach (var m in DebiasMethodNames.All)
        {
            if (m == DebiasMethod.GroupDro && !(o.Regime == SelectionRegime.Groups && trainingGroups))
                leftOut[m] = o.GroupColumnName is null ? "no group column (GroupColumnName)" : $"the training set has no group column '{o.GroupColumnName}'";
            else if (DebiasMethodNames.FitsOnHeldOutSet(m) && o.HeldOutSet is null)
                leftOut[m] = "no held-out set to fit on (HeldOutSet)";
            else if (!o.Spaces.ContainsKey(DebiasMethodNames.Name(m)))
                leftOut[m] = "no search space for it (SearchSpaces)";
            else
                methods.Add(m);
        }
        return (methods, leftOut);
    }

    /// <summary>Runs the search: every method's draws, then the chosen draw's seeds.</summary>
    /// <param name="trainData">The training rows: label and feature columns (and the group column for GroupDRO).</param>
    /// <param name="validationData">The rows that choose epochs and draws: label, features, and the group column in the
    /// <see cref="SelectionRegime.Groups"/> regime, with rows of every group the training rows have.</param>
    /// <param name="progress">Receives a report after each training, or null.</param>
    /// <param name="cancellationToken">Stops the search between trainings (and inside one, whose work is then lost);
    /// finished trainings stay in the result folder.</param>
    /// <returns>The chosen model, the leaderboard and the seeds' spread. Dispose it to free the model.</returns>
    /// <exception cref="ArgumentException">A missing column, a validation set without a group the search needs, or an
    /// option the data contradicts; the message names the column, group or option.</exception>
    /// <exception cref="OperationCanceledException">The search was cancelled.</exception>
    /// <exception cref="InvalidOperationException">Every training failed; the message gives their reasons, or a result
    /// folder holds results of other defaults or search spaces.</exception>
    public MethodSearchResult Execute(IDataView trainData, IDataView validationData, IProgress<MethodSearchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(validationData);
        var o = Options;
        CheckData(trainData, validationData);
        var (methods, leftOut) = ResolveMethods(trainData);
        var names = methods.Select(DebiasMethodNames.Name).ToList();
        var store = o.ResultFolder is null ? null : SearchTrialStore.Open(o.ResultFolder);
        store?.CheckDefaults(names);
        var run = new SearchRun(this, trainData, validationData, store, names, progress, cancellationToken);
        try
        {
            // Round 0: every method's defaults; then the draws the budget allows, round by round.
            run.Total = methods.Count * (o.TimeBudget is null ? o.DrawsPerMethod : 1) + o.Seeds.Count;
            run.Stage(DrawsStage, names.Select(m => Key(m, 0, 0)));
            var (draws, note) = o.TimeBudget is { } budget ? BudgetDraws(store, budget, run.Trials, names) : (o.DrawsPerMethod, "");
            store?.CheckDrawValues(o.Spaces, names, draws);
            run.Total = methods.Count * draws + o.Seeds.Count;
            for (int d = 1; d < draws; d++) run.Stage(DrawsStage, names.Select(m => Key(m, d, 0)));

            var drawTrials = run.Trials.Values.Where(t => t.Seed == 0 && t.Draw < draws).ToList();
            var chosen = SearchRule.Best(drawTrials, names)!;
            if (double.IsNaN(chosen.SelectionScore))
                throw new InvalidOperationException("Every training of the search failed: " + string.Join("; ",
                    drawTrials.Select(t => $"{t.Method} draw {t.Draw}: {t.FailureReason}").Distinct().Take(12)));
            run.Stage(SeedsStage, o.Seeds.Select(s => Key(chosen.Method, chosen.Draw, s)));

            var model = run.TakeModel(chosen.Key) ?? Retrain(trainData, validationData, chosen, cancellationToken);
            var notes = new List<string>();
            if (o.HeldOutSet is not null && ReferenceEquals(o.HeldOutSet, validationData) && methods.Any(DebiasMethodNames.FitsOnHeldOutSet))
                notes.Add("DFR and DPE fitted on the validation set, which also scores them: their validation scores are optimistic against the other methods'.");
            List<SearchTrial> seeds = [.. o.Seeds.Select(s => run.Trials[Key(chosen.Method, chosen.Draw, s)])];
            var leaderboard = drawTrials
                .OrderByDescending(SearchRule.Score).ThenBy(t => names.IndexOf(t.Method)).ThenBy(t => t.Draw)
                .Concat(seeds).ToList();
            return new MethodSearchResult(model, chosen, leaderboard, seeds, methods, leftOut, o.Regime, draws, note, notes, o.TestSet is not null);
        }
        finally
        {
            run.Dispose();
        }
    }

    /// <summary>Trains one configuration of the search (method, draw, seed) on the given data and scores it, without the
    /// result folder: what the search does for each training, for sweeps that plan their own trainings (the fair benchmark).</summary>
    /// <param name="trainData">The training rows.</param>
    /// <param name="validationData">The validation rows.</param>
    /// <param name="method">The method.</param>
    /// <param name="draw">The draw (0: its defaults).</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The scored training (failed, with the reason, when the method cannot run on the data).</returns>
    public SearchTrial TrainTrial(IDataView trainData, IDataView validationData, DebiasMethod method, int draw, int seed)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(validationData);
        var (trial, model) = Train(trainData, validationData, method, draw, seed, CancellationToken.None);
        model?.Dispose();
        return trial;
    }

    /// <summary>Trains one configuration of the search (method, draw, seed) and returns its model: the same training the
    /// search runs for that leaderboard entry, for re-training a configuration or looking inside it.</summary>
    /// <param name="trainData">The training rows.</param>
    /// <param name="validationData">The validation rows.</param>
    /// <param name="method">The method.</param>
    /// <param name="draw">The draw (0: its defaults).</param>
    /// <param name="seed">The seed.</param>
    /// <returns>The fitted model (the caller disposes it).</returns>
    public ClassifierNetworkTransformer Fit(IDataView trainData, IDataView validationData, DebiasMethod method, int draw, int seed)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(validationData);
        return MethodTrainerFactory.Fit(new MLContext(seed), Data(trainData, validationData), method, Values(method, draw), seed, CancellationToken.None);
    }

    /// <summary>The values draw <paramref name="draw"/> of <paramref name="method"/> trains with (empty for draw 0).</summary>
    /// <param name="method">The method.</param>
    /// <param name="draw">The draw.</param>
    /// <returns>Each value by its search-space name.</returns>
    public IReadOnlyDictionary<string, double> Values(DebiasMethod method, int draw)
    {
        var name = DebiasMethodNames.Name(method);
        return Options.Spaces.TryGetValue(name, out var space) ? space.Sample(draw)
            : draw == 0 ? new Dictionary<string, double>() : throw new ArgumentException($"No search space for {name}.", nameof(method));
    }

    /// <summary>The chosen draw's model when another process (or an earlier run) trained it: trained again from its seed.</summary>
    private ClassifierNetworkTransformer Retrain(IDataView trainData, IDataView validationData, SearchTrial chosen, CancellationToken cancellationToken)
    {
        var (trial, model) = Train(trainData, validationData, chosen.MethodKind, chosen.Draw, 0, cancellationToken);
        return model ?? throw new InvalidOperationException(
            $"The chosen training ({chosen.Key}) was read from the result folder, and training it again for its model failed: {trial.FailureReason}");
    }

    private SearchTrialKey Key(string method, int draw, int seed) => new(Options.Name, method, Options.Regime, draw, seed);

    internal (SearchTrial Trial, ClassifierNetworkTransformer? Model) Train(IDataView trainData, IDataView validationData, DebiasMethod method, int draw, int seed,
        CancellationToken cancellationToken)
    {
        var o = Options;
        var values = Values(method, draw);
        var describe = SearchSpace.Describe(values);
        string name = DebiasMethodNames.Name(method);
        var data = Data(trainData, validationData);
        var clock = Stopwatch.StartNew();
        // A context of its own per training: nothing a training does depends on which trainings the same process ran before.
        var ml = new MLContext(seed);
        ClassifierNetworkTransformer? model = null;
        try
        {
            model = MethodTrainerFactory.Fit(ml, data, method, values, seed, cancellationToken);
            double seconds = clock.Elapsed.TotalSeconds;
            var validation = Score(ml, model, validationData);
            var test = o.TestSet is null ? default : Score(ml, model, o.TestSet);
            return (new SearchTrial(o.Name, name, o.Regime, draw, seed, describe, validation.WorstGroup, validation.WorstClass, validation.Accuracy,
                o.TestSet is null ? double.NaN : test.Accuracy, o.TestSet is null ? double.NaN : test.WorstGroup, o.TestSet is null ? double.NaN : test.WorstClass, seconds), model);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException && !cancellationToken.IsCancellationRequested)
        {
            model?.Dispose();
            var reason = e.Message.Replace('"', '\'').ReplaceLineEndings(" ");
            return (new SearchTrial(o.Name, name, o.Regime, draw, seed, $"{describe}{SearchTrial.FailedMarker}{reason}",
                double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, clock.Elapsed.TotalSeconds), null);
        }
    }

    private SearchData Data(IDataView trainData, IDataView validationData)
    {
        var o = Options;
        return new SearchData(trainData, validationData, o.HeldOutSet, o.LabelColumnName, o.FeatureColumnName,
            o.Regime == SelectionRegime.Groups ? o.GroupColumnName : null, o.Regime, o.Network, o.Device);
    }

    private (double Accuracy, double WorstGroup, double WorstClass) Score(MLContext ml, ClassifierNetworkTransformer model, IDataView data)
    {
        var o = Options;
        string? group = o.ReportGroupColumnName ?? o.GroupColumnName;
        bool hasGroups = group is not null && data.Schema.GetColumnOrNull(group) is not null;
        var metrics = ml.MulticlassClassification.EvaluateGroups(model.Transform(data), o.LabelColumnName, hasGroups ? group! : o.LabelColumnName);
        return (metrics.AverageAccuracy, hasGroups ? metrics.WorstGroupAccuracy : double.NaN, metrics.WorstClassAccuracy);
    }

    /// <summary>Checks the columns and, choosing by groups, that every training group has validation rows.</summary>
    private void CheckData(IDataView train, IDataView validation)
    {
        var o = Options;
        void Require(IDataView data, string set, string column, string option)
        {
            if (data.Schema.GetColumnOrNull(column) is null)
                throw new ArgumentException($"The {set} set has no column '{column}' (MethodSearchOptions.{option}); its columns: {string.Join(", ", data.Schema.Where(c => !c.IsHidden).Select(c => c.Name))}.", set);
        }
        foreach (var (data, set) in new[] { (train, "training"), (validation, "validation") })
        {
            Require(data, set, o.LabelColumnName, nameof(o.LabelColumnName));
            Require(data, set, o.FeatureColumnName, nameof(o.FeatureColumnName));
        }
        if (o.HeldOutSet is { } heldOut)
        {
            Require(heldOut, "held-out", o.LabelColumnName, nameof(o.LabelColumnName));
            Require(heldOut, "held-out", o.FeatureColumnName, nameof(o.FeatureColumnName));
        }
        if (o.Regime != SelectionRegime.Groups) return;
        string group = o.GroupColumnName!;
        Require(validation, "validation", group, nameof(o.GroupColumnName));
        var validationGroups = GroupColumnReader.Read(validation, group);
        var present = validationGroups.Indices.Distinct().Select(i => validationGroups.Names[i]).ToHashSet(StringComparer.Ordinal);
        if (train.Schema.GetColumnOrNull(group) is not null)
        {
            var trainingGroups = GroupColumnReader.Read(train, group);
            var absent = trainingGroups.Indices.Distinct().Select(i => trainingGroups.Names[i]).Where(n => !present.Contains(n)).Order(StringComparer.Ordinal).ToList();
            if (absent.Count > 0)
                throw new ArgumentException($"The validation set has no rows of group{(absent.Count > 1 ? "s" : "")} {string.Join(", ", absent.Select(a => $"'{a}'"))} "
                    + $"(column '{group}'), which the training set has: choosing by validation worst-group accuracy needs rows of every group. Add such rows, "
                    + "or choose without groups (Selection = NoGroups, by worst-class accuracy).", nameof(validation));
        }
        if (present.Count < 2)
            throw new ArgumentException($"The validation set's group column '{group}' has {present.Count} group: worst-group accuracy needs at least two.", nameof(validation));
    }

    /// <summary>How many draws per method the time budget allows after every method's defaults: (budget - one round of
    /// defaults - the seeds' re-runs of the costliest method) / one round, plus the defaults' round; at least 1. Recorded in
    /// the result folder once, so that a resumed or shared search keeps the number.</summary>
    private (int Draws, string Note) BudgetDraws(SearchTrialStore? store, TimeSpan budget, IReadOnlyDictionary<SearchTrialKey, SearchTrial> trials, IReadOnlyList<string> names)
    {
        var o = Options;
        string? path = store is null ? null : Path.Combine(store.Folder, $"{o.Name}.{o.Regime}.budget.txt");
        if (path is not null && File.Exists(path))
        {
            var lines = File.ReadAllLines(path);
            if (lines.Length >= 2 && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out int recorded))
                return (recorded, lines[1]);
        }
        var round = names.Select(m => trials[Key(m, 0, 0)].Seconds).ToList();
        double roundSeconds = round.Sum(), seedsSeconds = o.Seeds.Count * round.Max();
        int draws = Math.Max(1, 1 + (int)Math.Floor((budget.TotalSeconds - roundSeconds - seedsSeconds) / Math.Max(roundSeconds, 1e-3)));
        string note = string.Create(CultureInfo.InvariantCulture,
            $"time budget {budget.TotalMinutes:F1} min: one round of every method's defaults took {roundSeconds:F0} s and the {o.Seeds.Count} seed re-runs are reserved {seedsSeconds:F0} s, so {draws} draw{(draws == 1 ? "" : "s")} per method");
        if (path is not null)
        {
            var temporary = path + $".{Environment.ProcessId}.tmp";
            File.WriteAllLines(temporary, [draws.ToString(CultureInfo.InvariantCulture), note], new UTF8Encoding(false));
            try { File.Move(temporary, path, overwrite: false); }
            catch (IOException) when (File.Exists(path))
            {
                File.Delete(temporary);
                return BudgetDraws(store, budget, trials, names);
            }
        }
        return (draws, note);
    }

    /// <summary>One execution: the trainings so far, the result folder, the claims, the best model trained here.</summary>
    private sealed class SearchRun(MethodSearch search, IDataView train, IDataView validation, SearchTrialStore? store, IReadOnlyList<string> names,
        IProgress<MethodSearchProgress>? progress, CancellationToken cancellationToken) : IDisposable
    {
        private ClassifierNetworkTransformer? _bestModel;
        private SearchTrial? _bestTrial;

        public Dictionary<SearchTrialKey, SearchTrial> Trials { get; } = [];

        public int Total { get; set; }

        /// <summary>Trains (or reads back) every key; keys another live process holds are waited for at the end.</summary>
        public void Stage(string stage, IEnumerable<SearchTrialKey> keys)
        {
            var waiting = new List<SearchTrialKey>();
            foreach (var key in keys)
                if (!TryRun(stage, key)) waiting.Add(key);
            while (waiting.Count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Thread.Sleep(WaitPoll);
                waiting.RemoveAll(key => TryRun(stage, key));
            }
        }

        /// <summary>The model of <paramref name="key"/> when this process trained it (the caller owns it), else null.</summary>
        public ClassifierNetworkTransformer? TakeModel(SearchTrialKey key)
        {
            if (_bestTrial?.Key != key) return null;
            var model = _bestModel;
            _bestModel = null;
            _bestTrial = null;
            return model;
        }

        public void Dispose() => _bestModel?.Dispose();

        private bool TryRun(string stage, SearchTrialKey key)
        {
            if (Trials.ContainsKey(key)) return true;
            if (store?.Find(key) is { } done)
            {
                Record(stage, done, reused: true);
                return true;
            }
            cancellationToken.ThrowIfCancellationRequested();
            using var claim = store is null ? null : TrialClaim.TryTake(store.Folder, key);
            if (store is not null && claim is null) return false;
            if (store?.Find(key) is { } justDone)
            {
                Record(stage, justDone, reused: true);
                return true;
            }
            var (trial, model) = search.Train(train, validation, DebiasMethodNames.Parse(key.Method), key.Draw, key.Seed, cancellationToken);
            store?.Save(trial);
            if (model is not null && key.Seed == 0 && (_bestTrial is null || SearchRule.Best([trial, _bestTrial], names) == trial))
            {
                _bestModel?.Dispose();
                (_bestModel, _bestTrial) = (model, trial);
            }
            else
                model?.Dispose();
            Record(stage, trial, reused: false);
            return true;
        }

        private void Record(string stage, SearchTrial trial, bool reused)
        {
            Trials[trial.Key] = trial;
            var leader = SearchRule.Best(Trials.Values.Where(t => t.Seed == 0 && !double.IsNaN(t.SelectionScore)), names);
            progress?.Report(new MethodSearchProgress(stage, Trials.Count, Math.Max(Total, Trials.Count), trial, reused, leader));
        }
    }
}
