namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Striped MNIST, a 2-class biased set: label = digit parity (<c>even</c> = 0, 2, 4, 6, 8; <c>odd</c> = 1, 3, 5, 7, 9),
/// spurious attribute = faint background stripes, horizontal or vertical. Horizontal stripes go with <c>even</c> and
/// vertical with <c>odd</c> for all training rows but a bias-conflicting share; orientations are balanced in
/// validation and test. Groups are (parity, orientation) pairs.
/// </summary>
/// <remarks>
/// <para>Made deterministically from the seed: the same MNIST, arguments and seed give identical splits and pixels.</para>
/// <list type="bullet">
/// <item>Training rows: a random subset of the MNIST training split. In each class of n rows exactly
/// <c>round(share · n)</c> (half away from zero) randomly chosen rows are bias-conflicting and take the other
/// orientation.</item>
/// <item>Validation rows: other rows of the MNIST training split; test rows: the MNIST test split. Within each class
/// the rows (in random order) alternate between the 2 orientations from a random start: each appears equally often in
/// each class (±1), so half of these rows are bias-aligned.</item>
/// <item>Pixel values, one channel: <c>max(pixel / 255, s)</c> where <c>s</c> is <see cref="StripeValue"/> (0.3) on the
/// stripes and 0 elsewhere. Stripes are alternate bands <see cref="StripeWidth"/> (2) pixels wide starting at the
/// edge: rows with <c>(row / 2) mod 2 = 0</c> (rows 0-1, 4-5, …) when horizontal, columns with
/// <c>(column / 2) mod 2 = 0</c> when vertical (<see cref="IsStripe"/>). The digit's ink covers the stripes where it
/// is brighter; background between stripes stays 0.</item>
/// <item>Data view columns <c>Features</c> (<c>Vector&lt;Single, 1, 28, 28&gt;</c>), <c>Label</c>, <c>Stripes</c> and
/// <c>Group</c> (keys named by <see cref="ClassNames"/>, <see cref="OrientationNames"/>, <see cref="GroupNames"/>);
/// see <see cref="BiasedMnistSplit"/>.</item>
/// </list>
/// </remarks>
public static class StripedMnist
{
    /// <summary>Default bias-conflicting share of each training class: 0.02.</summary>
    public const double DefaultConflictingShare = BiasedMnist.DefaultConflictingShare;

    /// <summary>The stripes' pixel value where the ink is fainter: 0.3 (on [0, 1]).</summary>
    public const float StripeValue = 0.3f;

    /// <summary>Width of each stripe and of each gap between stripes, in pixels: 2.</summary>
    public const int StripeWidth = 2;

    /// <summary>The name of the data view's attribute column: <c>Stripes</c>.</summary>
    public const string AttributeColumnName = "Stripes";

    /// <summary>Names of the 2 labels, <c>even</c> and <c>odd</c> (digit mod 2; the <c>Label</c> column's KeyValues).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ["even", "odd"];

    /// <summary>Names of the 2 stripe orientations by index: <c>horizontal</c>, <c>vertical</c> (the <c>Stripes</c>
    /// column's KeyValues); orientation k is class k's bias-aligned one.</summary>
    public static IReadOnlyList<string> OrientationNames { get; } = ["horizontal", "vertical"];

    /// <summary>Names of the 4 groups, index 2·label + orientation: <c>even/horizontal</c>, <c>even/vertical</c>,
    /// <c>odd/horizontal</c>, <c>odd/vertical</c> (the <c>Group</c> column's KeyValues). Bias-aligned groups have orientation = label.</summary>
    public static IReadOnlyList<string> GroupNames => StripedMnistBias.Instance.GroupNames;

    /// <summary>Whether pixel (<paramref name="row"/>, <paramref name="column"/>) lies on a stripe of <paramref name="orientation"/>.</summary>
    /// <param name="orientation">0 (horizontal) or 1 (vertical).</param>
    /// <param name="row">Pixel row, ≥ 0.</param>
    /// <param name="column">Pixel column, ≥ 0.</param>
    /// <returns>True when the row (horizontal) or column (vertical) is in an even-numbered 2-pixel band.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The orientation is not 0 or 1.</exception>
    public static bool IsStripe(int orientation, int row, int column) => orientation switch
    {
        0 => row / StripeWidth % 2 == 0,
        1 => column / StripeWidth % 2 == 0,
        _ => throw new ArgumentOutOfRangeException(nameof(orientation), orientation, "orientation must be 0 (horizontal) or 1 (vertical)."),
    };

    /// <summary>Makes the training, validation and test splits.</summary>
    /// <param name="mnist">MNIST (<see cref="MnistDataset.Load(string?)"/>); images of at least 3×3.</param>
    /// <param name="conflictingShare">Share of bias-conflicting rows in each training class, in [0, 1] (default 0.02).</param>
    /// <param name="seed">Seed for every random choice (default 0).</param>
    /// <param name="trainSize">Training rows, ≥ 1; default all MNIST training rows not used for validation (50,000).</param>
    /// <param name="validationSize">Validation rows, ≥ 0; default a sixth of the MNIST training split (10,000).</param>
    /// <param name="testSize">Test rows, 0 to the MNIST test size; default all (10,000).</param>
    /// <returns>The three splits.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range; training plus validation rows exceed the MNIST training split.</exception>
    /// <exception cref="ArgumentException">The images are smaller than 3×3.</exception>
    public static BiasedMnistSplits Create(MnistDataset mnist, double conflictingShare = DefaultConflictingShare, int seed = 0,
        int? trainSize = null, int? validationSize = null, int? testSize = null)
        => BiasedMnist.Create(mnist, StripedMnistBias.Instance, conflictingShare, seed, trainSize, validationSize, testSize);
}
