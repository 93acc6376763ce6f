namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>
/// Which held-out rows each fit of <see cref="DfrTrainer"/> uses: the tuning split, the group-balanced subset of its
/// fit part, and the group-balanced subset of every final retrain. Each draws from its own generator derived from the
/// seed, so every one can be recomputed alone (the tests take the same rows from here).
/// </summary>
/// <remarks>
/// A group-balanced subset keeps, of every group present in the pool, as many rows as the smallest group has, drawn
/// without replacement by a seeded shuffle of each group's rows (groups in index order); the rows are returned in
/// ascending order. Row and group indices are those of the held-out data view (groups as <c>GroupColumnReader</c>
/// numbers them).
/// </remarks>
internal static class DfrSampling
{
    // The derived generators' stream numbers: the split, the tuning subset, then one per retrain.
    private const int SplitStream = 0;
    private const int TuningStream = 1;
    private const int FirstRetrainStream = 2;

    /// <summary>The tuning split: a seeded permutation of the rows, its first <c>round(fitFraction * rowCount)</c> rows
    /// (at least 1, at most <c>rowCount - 1</c>) the fit part, the rest the score part; both in ascending order.</summary>
    public static (int[] Fit, int[] Score) TuningSplit(int rowCount, double fitFraction, int seed)
    {
        if (rowCount < 2) throw new ArgumentOutOfRangeException(nameof(rowCount), rowCount, "The tuning split needs at least two rows.");
        var order = Enumerable.Range(0, rowCount).ToArray();
        Shuffle(order, new Random(Derive(seed, SplitStream)));
        int fit = Math.Clamp((int)Math.Round(fitFraction * rowCount, MidpointRounding.AwayFromZero), 1, rowCount - 1);
        var fitRows = order[..fit];
        var scoreRows = order[fit..];
        Array.Sort(fitRows);
        Array.Sort(scoreRows);
        return (fitRows, scoreRows);
    }

    /// <summary>The group-balanced subset of the tuning fit part that every tuning head is fitted on.</summary>
    public static int[] TuningRows(int[] groups, int[] fitPart, int seed)
        => Balanced(fitPart, groups, new Random(Derive(seed, TuningStream)));

    /// <summary>The group-balanced subset of all held-out rows that final fit number <paramref name="retrain"/>
    /// (zero-based) uses.</summary>
    public static int[] RetrainRows(int[] groups, int seed, int retrain)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(retrain);
        return Balanced(Enumerable.Range(0, groups.Length).ToArray(), groups, new Random(Derive(seed, FirstRetrainStream + retrain)));
    }

    /// <summary>Every group present among <paramref name="rows"/> cut to the smallest one's size by a shuffle drawn from
    /// <paramref name="random"/>; ascending row order.</summary>
    public static int[] Balanced(IReadOnlyList<int> rows, int[] groups, Random random)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(groups);
        if (rows.Count == 0) throw new ArgumentException("There are no rows to balance.", nameof(rows));
        var byGroup = rows.GroupBy(r => groups[r]).OrderBy(g => g.Key).Select(g => g.ToArray()).ToList();
        int smallest = byGroup.Min(g => g.Length);
        var chosen = new List<int>(smallest * byGroup.Count);
        foreach (var members in byGroup)
        {
            Shuffle(members, random);
            chosen.AddRange(members.Take(smallest));
        }
        chosen.Sort();
        return chosen.ToArray();
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    private static void Shuffle(int[] values, Random random)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary>A generator seed for stream <paramref name="stream"/> of <paramref name="seed"/> (SplitMix64's finaliser
    /// over both): stable across processes and .NET versions, unlike <c>HashCode</c>.</summary>
    internal static int Derive(int seed, int stream)
    {
        unchecked
        {
            ulong z = ((ulong)(uint)seed << 32) | (uint)stream;
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (int)(z & int.MaxValue);
        }
    }
}
