namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// The order of training rows in an epoch, a pure function of (seed, epoch): a shuffle, or a weighted draw
/// with replacement (group-balanced sampling). Being a function of the epoch, a resumed run replays the
/// same order without saving a random generator's state.
/// </summary>
internal static class BatchOrder
{
    public static long[] ForEpoch(int rowCount, int seed, int epoch, double[]? samplingWeights)
    {
        var random = new SplitMix64(EpochSeed(seed, epoch, 0x5EED_0FDA));
        var order = new long[rowCount];
        if (samplingWeights is null)
        {
            for (int i = 0; i < rowCount; i++) order[i] = i;
            for (int i = rowCount - 1; i > 0; i--)
            {
                int j = (int)random.NextBelow((ulong)(i + 1));
                (order[i], order[j]) = (order[j], order[i]);
            }
            return order;
        }
        var cumulative = new double[rowCount];
        double total = 0;
        for (int i = 0; i < rowCount; i++) cumulative[i] = total += samplingWeights[i];
        for (int i = 0; i < rowCount; i++)
        {
            int index = Array.BinarySearch(cumulative, random.NextDouble() * total);
            order[i] = Math.Min(index < 0 ? ~index : index, rowCount - 1);
        }
        return order;
    }

    /// <summary>A 64-bit seed for (run seed, epoch, purpose).</summary>
    public static ulong EpochSeed(int seed, int epoch, ulong purpose)
    {
        var mixer = new SplitMix64(((ulong)(uint)seed << 32) ^ (uint)epoch ^ (purpose * 0x9E3779B97F4A7C15UL));
        return mixer.Next();
    }

    /// <summary>SplitMix64 (Steele et al.): small, fast, and identical on every platform.</summary>
    private struct SplitMix64(ulong state)
    {
        private ulong state = state;

        public ulong Next()
        {
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public ulong NextBelow(ulong bound)
        {
            ulong limit = ulong.MaxValue - ulong.MaxValue % bound;
            ulong value;
            do value = Next(); while (value >= limit);
            return value % bound;
        }

        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));
    }
}
