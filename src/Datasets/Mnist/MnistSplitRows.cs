namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// The MNIST rows of the three splits of an MNIST-built set (Coloured, Patched, Striped MNIST): validation and training
/// rows from the MNIST training split (disjoint), test rows from the MNIST test split, each list sorted, drawn from
/// the set's generator in that order.
/// </summary>
internal sealed record MnistSplitRows(int[] Train, int[] Validation, int[] Test)
{
    /// <summary>Checks the sizes (naming the argument) and draws the rows.</summary>
    /// <param name="mnist">MNIST.</param>
    /// <param name="trainSize">Training rows, at least 1; null for all not used for validation.</param>
    /// <param name="validationSize">Validation rows, at least 0; null for a sixth of the MNIST training split.</param>
    /// <param name="testSize">Test rows, 0 to the MNIST test size; null for all.</param>
    /// <param name="random">The set's generator (advanced by the draws).</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is out of range; the message names it and its range.</exception>
    public static MnistSplitRows Draw(MnistDataset mnist, int? trainSize, int? validationSize, int? testSize, Random random)
    {
        int available = mnist.TrainLabels.Length;
        int validation = validationSize ?? (int)Math.Round(available / 6.0);
        if (validation < 0 || validation >= available)
            throw new ArgumentOutOfRangeException(nameof(validationSize), validation, $"validationSize must be in [0, {available - 1}] (MNIST training rows: {available}).");
        int train = trainSize ?? available - validation;
        if (train < 1 || train > available - validation)
            throw new ArgumentOutOfRangeException(nameof(trainSize), train, $"trainSize must be in [1, {available - validation}]: the MNIST training split has {available} rows and {validation} go to validation.");
        int test = testSize ?? mnist.TestLabels.Length;
        if (test < 0 || test > mnist.TestLabels.Length)
            throw new ArgumentOutOfRangeException(nameof(testSize), test, $"testSize must be in [0, {mnist.TestLabels.Length}].");
        var order = ColoredMnist.Permutation(available, random);
        return new MnistSplitRows(
            Sorted(order[validation..(validation + train)]),
            Sorted(order[..validation]),
            Sorted(ColoredMnist.Permutation(mnist.TestLabels.Length, random)[..test]));
    }

    private static int[] Sorted(int[] rows)
    {
        Array.Sort(rows);
        return rows;
    }
}
