using System.Globalization;
using MLNet.FlatDebias.Trainers;
using Spectre.Console;

namespace MLNet.FlatDebias.Examples;

/// <summary>
/// Shows training as it happens: in a terminal, a Spectre.Console progress bar per run whose description carries the
/// live loss, the mean trace (FlatDebias) and the last validation numbers; one line per finished epoch in every case.
/// When the output is redirected or is not the console (CI, tests), only the plain lines are written.
/// </summary>
public sealed class TrainingConsole
{
    private readonly TextWriter output;

    /// <summary>Creates the console over <paramref name="output"/>.</summary>
    /// <param name="output">Where the lines go; live bars only when this is the console and a terminal.</param>
    public TrainingConsole(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        this.output = output;
        Interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
    }

    /// <summary>Whether live progress bars are drawn.</summary>
    public bool Interactive { get; }

    /// <summary>Writes a line (as plain text, also while a progress bar is live).</summary>
    /// <param name="text">The line.</param>
    public void Line(string text = "")
    {
        if (Interactive) AnsiConsole.WriteLine(text);
        else output.WriteLine(text);
    }

    /// <summary>Runs one training (a call of a trainer's <c>Fit</c>) with progress.</summary>
    /// <typeparam name="T">What the training returns.</typeparam>
    /// <param name="name">The run's name, e.g. <c>FlatDebias q=0.8</c>.</param>
    /// <param name="epochs">The run's number of epochs (the bar's length).</param>
    /// <param name="fit">The training, given the epoch and step progress sinks to set on the trainer options.</param>
    /// <returns>What <paramref name="fit"/> returned.</returns>
    public T Train<T>(string name, int epochs, Func<IProgress<EpochReport>, IProgress<StepReport>, T> fit)
    {
        ArgumentNullException.ThrowIfNull(fit);
        if (!Interactive)
        {
            var plain = new Sink(name, this, null);
            return fit(plain, plain);
        }
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(name), autoStart: true, maxValue: Math.Max(1, epochs));
                var live = new Sink(name, this, task);
                result = fit(live, live);
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return result;
    }

    /// <summary>Runs work over a known number of items (e.g. images through a feature extractor) with progress: in a
    /// terminal a live bar with the rate and the time left; otherwise a line at every tenth.</summary>
    /// <typeparam name="T">What the work returns.</typeparam>
    /// <param name="name">What is counted, e.g. <c>features train (4795 images)</c>.</param>
    /// <param name="total">The number of items.</param>
    /// <param name="work">The work, given a sink for the number of items done so far.</param>
    /// <returns>What <paramref name="work"/> returned.</returns>
    public T Count<T>(string name, long total, Func<IProgress<long>, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (!Interactive)
        {
            long nextTenth = 1;
            var lines = new CallbackProgress(done =>
            {
                if (total <= 0 || done * 10 < nextTenth * total) return;
                nextTenth = done * 10 / total + 1;
                Line(string.Create(CultureInfo.InvariantCulture, $"{name}: {done}/{total} ({clock.Elapsed.TotalSeconds:F0} s, {done / Math.Max(1e-9, clock.Elapsed.TotalSeconds):F1}/s)"));
            });
            return work(lines);
        }
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask(Markup.Escape(name), autoStart: true, maxValue: Math.Max(1, total));
                result = work(new CallbackProgress(done => task.Value = done));
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return result;
    }

    /// <summary>Calls back on the reporting thread (not <see cref="Progress{T}"/>, which posts elsewhere).</summary>
    private sealed class CallbackProgress(Action<long> callback) : IProgress<long>
    {
        public void Report(long value) => callback(value);
    }

    /// <summary>Formats an epoch report as one line: the run's name, then <see cref="EpochReport.ToString"/>.</summary>
    /// <param name="name">The run's name.</param>
    /// <param name="report">The report.</param>
    /// <returns>E.g. <c>ERM              epoch 3/8  loss 0.2310  val acc 0.9120  worst group 0.6540  (4.1 s)</c>.</returns>
    public static string EpochLine(string name, EpochReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return $"{name,-16} {report}";
    }

    /// <summary>Receives the trainer's reports on the training thread (not <see cref="Progress{T}"/>, which posts them
    /// elsewhere) and updates the bar or writes the lines.</summary>
    private sealed class Sink(string name, TrainingConsole console, ProgressTask? task) : IProgress<EpochReport>, IProgress<StepReport>
    {
        private double lossSum;
        private double traceSum;
        private int steps;
        private int traceSteps;
        private string lastValidation = "";

        public void Report(StepReport value)
        {
            if (value.Step == 0)
            {
                lossSum = traceSum = 0;
                steps = traceSteps = 0;
            }
            lossSum += value.Loss;
            steps++;
            if (value.MeanTrace is double t)
            {
                traceSum += t;
                traceSteps++;
            }
            if (task is null) return;
            // One unit per epoch: the bar moves with the steps.
            task.Value = value.Epoch + (value.Step + 1.0) / value.StepsPerEpoch;
            var text = string.Create(CultureInfo.InvariantCulture, $"{name}  epoch {value.Epoch + 1}  loss {lossSum / steps:F4}");
            if (traceSteps > 0) text += string.Create(CultureInfo.InvariantCulture, $"  trace {traceSum / traceSteps:G3}");
            task.Description = Markup.Escape(text + lastValidation);
        }

        public void Report(EpochReport value)
        {
            if (value.ValidationAccuracy is double a)
                lastValidation = string.Create(CultureInfo.InvariantCulture, $"  | val acc {a:F3}")
                    + (value.ValidationWorstGroupAccuracy is double w ? string.Create(CultureInfo.InvariantCulture, $" wga {w:F3}") : "");
            console.Line(EpochLine(name, value));
        }
    }
}
