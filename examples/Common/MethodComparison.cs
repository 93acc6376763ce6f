using System.Diagnostics;
using Microsoft.ML;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples;

/// <summary>One method's selected model.</summary>
/// <param name="Method"><c>ERM</c>, <c>GroupDRO</c> or <c>FlatDebias</c>.</param>
/// <param name="Model">The fitted model (at its selected epoch).</param>
/// <param name="Seconds">Training seconds (for FlatDebias, of the kept run).</param>
/// <param name="Quantile">FlatDebias: the trace quantile that won the bound search.</param>
public sealed record MethodRun(string Method, ClassifierNetworkTransformer Model, double Seconds, double? Quantile)
{
    /// <summary>The method with its chosen quantile, e.g. <c>FlatDebias (q=0.8)</c>.</summary>
    public string Label => Method + (Quantile is double q ? $" (q={Format.Setting(q)})" : "");

    /// <summary>The report of the selected epoch.</summary>
    public EpochReport Selected => Model.History.Epochs[Model.History.SelectedEpoch];
}

/// <summary>One FlatDebias run of the bound search (validation numbers only: test is never used to choose).</summary>
/// <param name="Quantile">The trace quantile (<c>TraceBoundQuantile</c>).</param>
/// <param name="TraceBound">The bound epsilon it gave.</param>
/// <param name="SelectedEpoch">The selected epoch, 1-based.</param>
/// <param name="ValidationWorstGroupAccuracy">Validation worst-group accuracy at that epoch.</param>
/// <param name="ValidationAccuracy">Validation accuracy at that epoch.</param>
/// <param name="Chosen">Whether this run was kept.</param>
/// <param name="Seconds">Training seconds.</param>
public sealed record EpsilonCandidate(double Quantile, double? TraceBound, int SelectedEpoch, double? ValidationWorstGroupAccuracy, double? ValidationAccuracy, bool Chosen, double Seconds);

/// <summary>
/// ERM, GroupDRO and FlatDebias trained on the same data with the same shared settings, each model taken at the
/// epoch the options' <see cref="NetworkTrainerOptions.ModelSelection"/> chooses on validation; FlatDebias once per
/// trace quantile of the search grid, keeping the run with the best validation score by the same rule (the first on
/// a tie). Every FlatDebias constraint setting other than the quantile is the
/// trainer's default (<c>new FlatDebiasTrainer.Options()</c>).
/// </summary>
public static class MethodComparison
{
    /// <summary>The FlatDebias constraint settings every run uses (the trainer's defaults), for the output and the results file.</summary>
    /// <returns>E.g. <c>Head scope, Empirical estimator, ProbabilitiesOnly gradient, warm-up 1 epoch(s), dual step 0.1, max dual 10, all rows</c>.</returns>
    public static string FlatDebiasDefaults()
    {
        var o = new FlatDebiasTrainer.Options();
        return $"{o.TraceScope} scope, {o.TraceEstimator} estimator, {o.TraceGradient} gradient, warm-up {o.WarmupEpochs} epoch(s), " +
            $"dual step {Format.Setting(o.DualLearningRate)}, max dual {Format.Setting(o.MaxDual)}, " +
            (o.TopK is int k ? $"top {k} per batch" : "all rows constrained");
    }

    /// <summary>Trains the three methods.</summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="console">Progress and the search table go here.</param>
    /// <param name="train">The training data.</param>
    /// <param name="configure">Sets the shared options (columns, network, schedule, validation set, model selection) on any trainer's options.</param>
    /// <param name="quantiles">The FlatDebias bound search grid.</param>
    /// <param name="prefix">Prefix of the run names in the progress lines (e.g. the share), or empty.</param>
    /// <returns>The runs in the order ERM, GroupDRO, FlatDebias, and the search.</returns>
    public static (IReadOnlyList<MethodRun> Runs, IReadOnlyList<EpsilonCandidate> Search) Train(MLContext mlContext, TrainingConsole console, IDataView train,
        Action<NetworkTrainerOptions> configure, IReadOnlyList<double> quantiles, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(configure);
        var trainers = mlContext.MulticlassClassification.Trainers;
        var runs = new List<MethodRun>();
        var search = new List<EpsilonCandidate>();
        var selection = Configure(new ErmTrainer.Options(), configure).ModelSelection;
        try
        {
            var (erm, ermSeconds) = Fit(console, prefix + "ERM", Configure(new ErmTrainer.Options(), configure), o => trainers.Erm(o).Fit(train));
            runs.Add(new MethodRun("ERM", erm, ermSeconds, null));
            var (dro, droSeconds) = Fit(console, prefix + "GroupDRO", Configure(new GroupDroTrainer.Options(), configure), o => trainers.GroupDro(o).Fit(train));
            runs.Add(new MethodRun("GroupDRO", dro, droSeconds, null));

            var (best, candidates) = SearchFlatDebias(console, train, configure, quantiles, () => new FlatDebiasTrainer.Options(), "FlatDebias", prefix,
                o => trainers.FlatDebias(o).Fit(train));
            search.AddRange(candidates);
            runs.Add(best);
        }
        catch
        {
            foreach (var run in runs) run.Model.Dispose();
            throw;
        }
        PrintSearch(console, prefix + "FlatDebias", search, selection);
        return (runs, search);
    }

    /// <summary>Prints the bound search table (nothing for a single candidate).</summary>
    /// <param name="console">Where it goes.</param>
    /// <param name="name">The method's name, e.g. <c>FlatDebias</c>.</param>
    /// <param name="search">The candidates.</param>
    /// <param name="selection">The rule that chose.</param>
    public static void PrintSearch(TrainingConsole console, string name, IReadOnlyList<EpsilonCandidate> search, ModelSelection selection)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(search);
        if (search.Count <= 1) return;
        console.Line($"{name} bound search (validation only; the best {(selection == ModelSelection.ValidationAccuracy ? "accuracy" : "worst-group accuracy")} is kept):");
        console.Line(TextTable.Render(["quantile", "epsilon", "selected epoch", "val accuracy", "val worst group", "kept"],
            [.. search.Select(c => (IReadOnlyList<string>)[Format.Setting(c.Quantile), Format.Number(c.TraceBound), Format.Count(c.SelectedEpoch),
                Format.Percent(c.ValidationAccuracy), Format.Percent(c.ValidationWorstGroupAccuracy), c.Chosen ? "yes" : ""])]));
    }

    /// <summary>FlatDebias trained once per quantile of <paramref name="quantiles"/> from the options <paramref name="create"/>
    /// makes, keeping the run with the best validation score by the options' model selection (the first on a tie).</summary>
    /// <param name="console">Progress goes here.</param>
    /// <param name="train">The training data.</param>
    /// <param name="configure">Sets the shared options.</param>
    /// <param name="quantiles">The bound search grid.</param>
    /// <param name="create">Makes the FlatDebias options before the shared settings and the quantile are set (e.g.
    /// <see cref="FlatDebiasTrainer.Options.PaperExact"/>).</param>
    /// <param name="method">The method's name in the runs, e.g. <c>FlatDebias</c>.</param>
    /// <param name="prefix">Prefix of the run names in the progress lines.</param>
    /// <param name="fit">Fits the trainer with the options.</param>
    /// <returns>The kept run (the others are disposed) and every candidate.</returns>
    public static (MethodRun Best, IReadOnlyList<EpsilonCandidate> Search) SearchFlatDebias(TrainingConsole console, IDataView train, Action<NetworkTrainerOptions> configure,
        IReadOnlyList<double> quantiles, Func<FlatDebiasTrainer.Options> create, string method, string prefix, Func<FlatDebiasTrainer.Options, ClassifierNetworkTransformer> fit)
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentNullException.ThrowIfNull(fit);
        var selection = Configure(new ErmTrainer.Options(), configure).ModelSelection;
        MethodRun? best = null;
        var candidates = new List<(double Quantile, TrainingHistory History, double Seconds)>();
        try
        {
            foreach (var quantile in quantiles)
            {
                var options = Configure(create(), configure);
                options.TraceBoundQuantile = quantile;
                var (model, seconds) = Fit(console, $"{prefix}{method} q={Format.Setting(quantile)}", options, fit);
                candidates.Add((quantile, model.History, seconds));
                var run = new MethodRun(method, model, seconds, quantile);
                if (best is null || Score(run, selection) > Score(best, selection))
                {
                    best?.Model.Dispose();
                    best = run;
                }
                else
                {
                    model.Dispose();
                }
            }
        }
        catch
        {
            best?.Model.Dispose();
            throw;
        }
        var search = candidates.Select(c =>
        {
            var selected = c.History.Epochs[c.History.SelectedEpoch];
            return new EpsilonCandidate(c.Quantile, c.History.Epochs[^1].TraceBound, c.History.SelectedEpoch + 1,
                selected.ValidationWorstGroupAccuracy, selected.ValidationAccuracy, c.Quantile.Equals(best!.Quantile), c.Seconds);
        }).ToList();
        return (best!, search);
    }

    /// <summary>Trains one run with progress and times it.</summary>
    /// <typeparam name="T">The trainer's options.</typeparam>
    /// <param name="console">Progress goes here.</param>
    /// <param name="name">The run's name.</param>
    /// <param name="options">The options (their progress sinks are set here).</param>
    /// <param name="fit">Fits the trainer.</param>
    /// <returns>The model and the wall-clock seconds.</returns>
    public static (ClassifierNetworkTransformer Model, double Seconds) Timed<T>(TrainingConsole console, string name, T options, Func<T, ClassifierNetworkTransformer> fit)
        where T : NetworkTrainerOptions => Fit(console, name, options, fit);

    /// <summary>Applies the shared settings to a trainer's options.</summary>
    /// <typeparam name="T">The options type.</typeparam>
    /// <param name="options">The options.</param>
    /// <param name="configure">The shared settings.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static T With<T>(T options, Action<NetworkTrainerOptions> configure) where T : NetworkTrainerOptions => Configure(options, configure);

    /// <summary>One ERM epoch with the shared settings and no validation: the start of every run above (training is
    /// deterministic, so a one-epoch run with the same seed is the first epoch of the longer runs).</summary>
    public static ClassifierNetworkTransformer FirstEpoch(MLContext mlContext, TrainingConsole console, IDataView train, Action<NetworkTrainerOptions> configure, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        var options = Configure(new ErmTrainer.Options(), configure);
        options.NumberOfEpochs = 1;
        options.ValidationSet = null;
        options.ModelSelection = ModelSelection.LastEpoch;
        return Fit(console, prefix + "ERM 1 epoch", options, o => mlContext.MulticlassClassification.Trainers.Erm(o).Fit(train)).Model;
    }

    private static double Score(MethodRun run, ModelSelection selection) => (selection switch
    {
        ModelSelection.ValidationAccuracy => run.Selected.ValidationAccuracy,
        ModelSelection.ValidationWorstClassAccuracy => run.Selected.ValidationWorstClassAccuracy,
        _ => run.Selected.ValidationWorstGroupAccuracy,
    }) ?? double.NegativeInfinity;

    private static T Configure<T>(T options, Action<NetworkTrainerOptions> configure) where T : NetworkTrainerOptions
    {
        configure(options);
        return options;
    }

    private static (ClassifierNetworkTransformer Model, double Seconds) Fit<T>(TrainingConsole console, string name, T options, Func<T, ClassifierNetworkTransformer> fit)
        where T : NetworkTrainerOptions
    {
        var clock = Stopwatch.StartNew();
        var model = console.Train(name, options.NumberOfEpochs, (epochs, steps) =>
        {
            options.Progress = epochs;
            options.StepProgress = steps;
            return fit(options);
        });
        return (model, clock.Elapsed.TotalSeconds);
    }
}
