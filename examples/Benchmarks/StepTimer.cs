using System.Diagnostics;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>Times a repeated action: one untimed warm-up call, then the median of the timed calls.</summary>
internal static class StepTimer
{
    public static double MedianSeconds(Action step, int repetitions)
    {
        step();
        var times = new double[repetitions];
        for (int i = 0; i < repetitions; i++)
        {
            var watch = Stopwatch.StartNew();
            step();
            times[i] = watch.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[repetitions / 2];
    }
}
