namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Builds the splits of a biased MNIST set from its <see cref="MnistBias"/>, the way <see cref="ColoredMnist"/> builds
/// its own: exact bias-conflicting counts per training class, attributes balanced within each evaluation class.
/// </summary>
internal static class BiasedMnist
{
    /// <summary>Default bias-conflicting share of each training class: 0.02.</summary>
    public const double DefaultConflictingShare = 0.02;

    /// <summary>Validates the arguments (messages name them), then draws the rows and their attributes from <paramref name="seed"/>.</summary>
    public static BiasedMnistSplits Create(MnistDataset mnist, MnistBias bias, double conflictingShare, int seed,
        int? trainSize, int? validationSize, int? testSize)
    {
        ArgumentNullException.ThrowIfNull(mnist);
        if (!(conflictingShare is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(conflictingShare), conflictingShare, "conflictingShare must be in [0, 1].");
        if (mnist.Height < bias.MinimumSide || mnist.Width < bias.MinimumSide)
            throw new ArgumentException($"The images are {mnist.Height}x{mnist.Width}; this set draws on images of at least {bias.MinimumSide}x{bias.MinimumSide}.", nameof(mnist));
        var random = new Random(seed);
        var rows = MnistSplitRows.Draw(mnist, trainSize, validationSize, testSize, random);
        var (trainRows, validationRows, testRows) = (rows.Train, rows.Validation, rows.Test);

        return new BiasedMnistSplits(
            Make(bias, mnist.TrainImages, mnist.TrainLabels, trainRows, random, (n, label) => AssignBiased(n, label, bias.ClassCount, conflictingShare, random)),
            Make(bias, mnist.TrainImages, mnist.TrainLabels, validationRows, random, (n, _) => AssignUniform(n, bias.ClassCount, random)),
            Make(bias, mnist.TestImages, mnist.TestLabels, testRows, random, (n, _) => AssignUniform(n, bias.ClassCount, random)),
            conflictingShare, seed);
    }

    /// <summary>Builds one split: attributes per class by <paramref name="assign"/>, given to the class's rows in random order.</summary>
    private static BiasedMnistSplit Make(MnistBias bias, byte[,,] images, byte[] digitsOf, int[] rows, Random random, Func<int, int, int[]> assign)
    {
        var digits = rows.Select(r => (int)digitsOf[r]).ToArray();
        var labels = digits.Select(bias.Label).ToArray();
        var attributes = new int[rows.Length];
        for (int label = 0; label < bias.ClassCount; label++)
        {
            var members = Enumerable.Range(0, rows.Length).Where(i => labels[i] == label).ToArray();
            var assigned = assign(members.Length, label);
            ColoredMnist.Shuffle(members, random);
            for (int k = 0; k < members.Length; k++) attributes[members[k]] = assigned[k];
        }
        return new BiasedMnistSplit(bias, images, rows, digits, labels, attributes);
    }

    /// <summary>Attributes for the n rows of a training class: the first round(share·n) (half away from zero)
    /// conflicting, going round the other values in turn from a random start; the rest the class's own value.</summary>
    private static int[] AssignBiased(int n, int label, int values, double share, Random random)
    {
        int conflicting = (int)Math.Round(share * n, MidpointRounding.AwayFromZero);
        int start = random.Next(values - 1);
        return [.. Enumerable.Range(0, n).Select(k => k < conflicting ? (label + 1 + (start + k) % (values - 1)) % values : label)];
    }

    /// <summary>Attributes for the n rows of an evaluation class: all values in turn from a random start.</summary>
    private static int[] AssignUniform(int n, int values, Random random)
    {
        int start = random.Next(values);
        return [.. Enumerable.Range(0, n).Select(k => (start + k) % values)];
    }

}
