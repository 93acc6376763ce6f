using System.Diagnostics;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>Times a repeated action: one untimed warm-up call, then the median of the timed calls.</summary>
internal static class StepTimer
{
    public static double MedianSeconds(Action step, int repetitions) => InterleavedMedianSeconds([step], repetitions, [repetitions])[0];

    /// <summary>Times several actions in rounds (one call of each per round, after one untimed warm-up call of each), so
    /// that a slow spell of a noisy machine falls on all of them alike; returns each action's median.</summary>
    /// <param name="steps">The actions.</param>
    /// <param name="rounds">How many rounds.</param>
    /// <param name="timedRounds">Per action, in how many of the first rounds it is timed (fewer for slow ones).</param>
    public static double[] InterleavedMedianSeconds(IReadOnlyList<Action> steps, int rounds, IReadOnlyList<int> timedRounds)
    {
        foreach (var step in steps) step();
        var times = steps.Select(_ => new List<double>()).ToList();
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < steps.Count; i++)
            {
                if (round >= timedRounds[i]) continue;
                var watch = Stopwatch.StartNew();
                steps[i]();
                times[i].Add(watch.Elapsed.TotalSeconds);
            }
        }
        return times.Select(t => t.Order().ElementAt(t.Count / 2)).ToArray();
    }
}
