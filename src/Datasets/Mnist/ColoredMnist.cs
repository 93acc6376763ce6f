namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Coloured MNIST as in LfF (Nam et al. 2020) and PGD (Ahn et al. 2023): each digit's ink is coloured with one
/// of 10 fixed colours (<see cref="ColoredMnistPalette"/>), colour = digit for all training rows but a
/// bias-conflicting share (the field uses 0.5 %, 1 %, 2 %, 5 %), and colours uniform in validation and test.
/// Groups are (digit, colour) pairs.
/// </summary>
/// <remarks>
/// <para>Made deterministically from the seed: the same MNIST, arguments and seed give identical splits and pixels.</para>
/// <list type="bullet">
/// <item>Training rows: a random subset of the MNIST training split. In each digit class of n rows exactly
/// <c>round(share · n)</c> (half away from zero) randomly chosen rows are bias-conflicting; their colours go round
/// the 9 other colours in turn from a random start, so every wrong colour is used equally (±1).</item>
/// <item>Validation rows: other rows of the MNIST training split; test rows: the MNIST test split. Within each digit
/// class the rows (in random order) take the 10 colours in turn from a random start: each colour appears equally
/// often in each class (±1), so about 10 % of these rows are bias-aligned.</item>
/// <item>Pixel values: <c>pixel / 255 · colour</c> on a black background, where each row's colour is the palette
/// colour plus Gaussian jitter of standard deviation <c>colorStd</c> per channel, clamped to [0, 1]
/// (LfF's "severity 4" is 0.005).</item>
/// </list>
/// </remarks>
public static class ColoredMnist
{
    /// <summary>The bias-conflicting shares the literature reports: 0.5 %, 1 %, 2 %, 5 %.</summary>
    public static IReadOnlyList<double> StandardConflictingShares { get; } = [0.005, 0.01, 0.02, 0.05];

    /// <summary>Default colour jitter, standard deviation per channel on [0, 1]: 0.005 (LfF's severity 4).</summary>
    public const double DefaultColorStd = 0.005;

    /// <summary>Names of the 10 labels, <c>0</c> to <c>9</c> (the <c>Label</c> column's KeyValues).</summary>
    public static IReadOnlyList<string> DigitNames { get; } = [.. Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Names of the 100 groups, index 10·digit + colour: <c>0/red</c>, <c>0/orange</c>, … <c>9/grey</c>
    /// (the <c>Group</c> column's KeyValues). Bias-aligned groups are those with colour index = digit.</summary>
    public static IReadOnlyList<string> GroupNames { get; } =
        [.. Enumerable.Range(0, 100).Select(g => $"{DigitNames[g / 10]}/{ColoredMnistPalette.Names[g % 10]}")];

    /// <summary>Makes the training, validation and test splits.</summary>
    /// <param name="mnist">MNIST (<see cref="MnistDataset.Load(string?)"/>).</param>
    /// <param name="conflictingShare">Share of bias-conflicting rows in each training class, in [0, 1]; see
    /// <see cref="StandardConflictingShares"/>.</param>
    /// <param name="seed">Seed for every random choice.</param>
    /// <param name="trainSize">Training rows, ≥ 1; default all MNIST training rows not used for validation (50,000).</param>
    /// <param name="validationSize">Validation rows, ≥ 0; default a sixth of the MNIST training split (10,000).</param>
    /// <param name="testSize">Test rows, 0 to the MNIST test size; default all (10,000).</param>
    /// <param name="colorStd">Colour jitter per row and channel, standard deviation in [0, 1] (default 0.005; 0 for exact palette colours).</param>
    /// <returns>The three splits.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range; training plus validation rows exceed the MNIST training split.</exception>
    public static ColoredMnistSplits Create(MnistDataset mnist, double conflictingShare, int seed,
        int? trainSize = null, int? validationSize = null, int? testSize = null, double colorStd = DefaultColorStd)
    {
        ArgumentNullException.ThrowIfNull(mnist);
        if (!(conflictingShare is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(conflictingShare), conflictingShare, "conflictingShare must be in [0, 1].");
        if (!(colorStd is >= 0 and <= 1))
            throw new ArgumentOutOfRangeException(nameof(colorStd), colorStd, "colorStd must be in [0, 1].");
        var random = new Random(seed);
        var rows = MnistSplitRows.Draw(mnist, trainSize, validationSize, testSize, random);
        var (trainRows, validationRows, testRows) = (rows.Train, rows.Validation, rows.Test);

        return new ColoredMnistSplits(
            Make(mnist.TrainImages, mnist.TrainLabels, trainRows, random, colorStd, (rows, digit) => AssignBiased(rows, digit, conflictingShare, random)),
            Make(mnist.TrainImages, mnist.TrainLabels, validationRows, random, colorStd, (rows, _) => AssignUniform(rows, random)),
            Make(mnist.TestImages, mnist.TestLabels, testRows, random, colorStd, (rows, _) => AssignUniform(rows, random)),
            conflictingShare, seed);
    }

    /// <summary>Builds one split: colours per class by <paramref name="assign"/>, then the jittered RGB per row.</summary>
    private static ColoredMnistSplit Make(byte[,,] images, byte[] labels, int[] rows, Random random, double colorStd, Func<int, int, int[]> assign)
    {
        var digits = rows.Select(r => (int)labels[r]).ToArray();
        var colors = new int[rows.Length];
        for (int digit = 0; digit < 10; digit++)
        {
            var members = Enumerable.Range(0, rows.Length).Where(i => digits[i] == digit).ToArray();
            var assigned = assign(members.Length, digit);
            Shuffle(members, random);
            for (int k = 0; k < members.Length; k++) colors[members[k]] = assigned[k];
        }
        var rgb = new float[3 * rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            var (r, g, b) = ColoredMnistPalette.Rgb[colors[i]];
            rgb[3 * i] = Jitter(r, colorStd, random);
            rgb[3 * i + 1] = Jitter(g, colorStd, random);
            rgb[3 * i + 2] = Jitter(b, colorStd, random);
        }
        return new ColoredMnistSplit(images, rows, digits, colors, rgb);
    }

    /// <summary>Colours for the n rows of a training class: the first round(share·n) conflicting (the other 9
    /// colours in turn from a random start), the rest the digit's own colour; rows are shuffled before assignment.</summary>
    private static int[] AssignBiased(int n, int digit, double share, Random random)
    {
        int conflicting = (int)Math.Round(share * n, MidpointRounding.AwayFromZero);
        var colors = new int[n];
        int start = random.Next(9);
        for (int k = 0; k < n; k++)
            colors[k] = k < conflicting ? (digit + 1 + (start + k) % 9) % 10 : digit;
        return colors;
    }

    /// <summary>Colours for the n rows of an evaluation class: the 10 colours in turn from a random start.</summary>
    private static int[] AssignUniform(int n, Random random)
    {
        int start = random.Next(10);
        return [.. Enumerable.Range(0, n).Select(k => (start + k) % 10)];
    }

    private static float Jitter(float value, double std, Random random)
    {
        if (std == 0) return value;
        // Box-Muller: one standard normal draw from two uniforms.
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        double normal = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
        return (float)Math.Clamp(value + std * normal, 0.0, 1.0);
    }

    internal static int[] Permutation(int n, Random random)
    {
        var order = Enumerable.Range(0, n).ToArray();
        Shuffle(order, random);
        return order;
    }

    /// <summary>Fisher-Yates, drawing from <paramref name="random"/> only (not <c>Random.Shuffle</c>, whose draws may change between .NET versions).</summary>
    internal static void Shuffle(int[] items, Random random)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

}
