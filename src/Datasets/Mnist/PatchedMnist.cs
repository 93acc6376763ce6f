namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Patched MNIST, a 3-class biased set: label = digit mod 3 (class <c>0</c> = digits 0, 3, 6, 9; <c>1</c> = 1, 4, 7;
/// <c>2</c> = 2, 5, 8), spurious attribute = the corner where a solid white 5×5 square is drawn over the grey digit
/// (top-left, top-right, bottom-left). Corner k goes with class k for all training rows but a bias-conflicting share;
/// corners are balanced in validation and test. Groups are (class, corner) pairs.
/// </summary>
/// <remarks>
/// <para>Made deterministically from the seed: the same MNIST, arguments and seed give identical splits and pixels.</para>
/// <list type="bullet">
/// <item>Training rows: a random subset of the MNIST training split. In each class of n rows exactly
/// <c>round(share · n)</c> (half away from zero) randomly chosen rows are bias-conflicting; their corners go round the
/// 2 other corners in turn from a random start, so both wrong corners are used equally (±1).</item>
/// <item>Validation rows: other rows of the MNIST training split; test rows: the MNIST test split. Within each class
/// the rows (in random order) take the 3 corners in turn from a random start: each corner appears equally often in
/// each class (±1), so about a third of these rows are bias-aligned.</item>
/// <item>Pixel values, one channel: <c>pixel / 255</c> (black background, white ink), then the <see cref="PatchSize"/>
/// × <see cref="PatchSize"/> square whose top-left pixel is <see cref="PatchCorner"/> set to <see cref="PatchValue"/>
/// (1), <see cref="PatchMargin"/> (1) pixel from the two nearest edges: rows and columns 1 to 5 for top-left, rows 1 to
/// 5 and columns 22 to 26 for top-right, rows 22 to 26 and columns 1 to 5 for bottom-left on 28×28 images. The digit
/// shows through nowhere in the square; every other pixel is the digit's.</item>
/// <item>Data view columns <c>Features</c> (<c>Vector&lt;Single, 1, 28, 28&gt;</c>), <c>Label</c>, <c>Patch</c> and
/// <c>Group</c> (keys named by <see cref="ClassNames"/>, <see cref="PositionNames"/>, <see cref="GroupNames"/>);
/// see <see cref="BiasedMnistSplit"/>.</item>
/// </list>
/// </remarks>
public static class PatchedMnist
{
    /// <summary>Default bias-conflicting share of each training class: 0.02.</summary>
    public const double DefaultConflictingShare = BiasedMnist.DefaultConflictingShare;

    /// <summary>Side of the square patch in pixels: 5.</summary>
    public const int PatchSize = 5;

    /// <summary>Pixels between the patch and the two image edges nearest to it: 1.</summary>
    public const int PatchMargin = 1;

    /// <summary>The patch's pixel value: 1 (white).</summary>
    public const float PatchValue = 1f;

    /// <summary>The name of the data view's attribute column: <c>Patch</c>.</summary>
    public const string AttributeColumnName = "Patch";

    /// <summary>Names of the 3 labels, <c>0</c>, <c>1</c>, <c>2</c> (digit mod 3; the <c>Label</c> column's KeyValues).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ["0", "1", "2"];

    /// <summary>Names of the 3 patch positions by index: <c>top-left</c>, <c>top-right</c>, <c>bottom-left</c>
    /// (the <c>Patch</c> column's KeyValues); position k is class k's bias-aligned one.</summary>
    public static IReadOnlyList<string> PositionNames { get; } = ["top-left", "top-right", "bottom-left"];

    /// <summary>Names of the 9 groups, index 3·label + position: <c>0/top-left</c>, <c>0/top-right</c>, …
    /// <c>2/bottom-left</c> (the <c>Group</c> column's KeyValues). Bias-aligned groups have position = label.</summary>
    public static IReadOnlyList<string> GroupNames => PatchedMnistBias.Instance.GroupNames;

    /// <summary>The top-left pixel of the patch at <paramref name="position"/>.</summary>
    /// <param name="position">0 (top-left), 1 (top-right) or 2 (bottom-left).</param>
    /// <param name="height">Image height in pixels, at least 7.</param>
    /// <param name="width">Image width in pixels, at least 7.</param>
    /// <returns>Row and column of the patch's top-left pixel; the patch covers <see cref="PatchSize"/> rows and columns from there.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The position is not 0 to 2, or the image is too small for the patch.</exception>
    public static (int Top, int Left) PatchCorner(int position, int height, int width)
    {
        const int side = PatchSize + 2 * PatchMargin;
        if (height < side) throw new ArgumentOutOfRangeException(nameof(height), height, $"height must be at least {side}.");
        if (width < side) throw new ArgumentOutOfRangeException(nameof(width), width, $"width must be at least {side}.");
        int far = PatchMargin + PatchSize; // distance from the far edge to the patch's first row or column
        return position switch
        {
            0 => (PatchMargin, PatchMargin),
            1 => (PatchMargin, width - far),
            2 => (height - far, PatchMargin),
            _ => throw new ArgumentOutOfRangeException(nameof(position), position, "position must be 0 (top-left), 1 (top-right) or 2 (bottom-left)."),
        };
    }

    /// <summary>Makes the training, validation and test splits.</summary>
    /// <param name="mnist">MNIST (<see cref="MnistDataset.Load(string?)"/>); images of at least 7×7.</param>
    /// <param name="conflictingShare">Share of bias-conflicting rows in each training class, in [0, 1] (default 0.02).</param>
    /// <param name="seed">Seed for every random choice (default 0).</param>
    /// <param name="trainSize">Training rows, ≥ 1; default all MNIST training rows not used for validation (50,000).</param>
    /// <param name="validationSize">Validation rows, ≥ 0; default a sixth of the MNIST training split (10,000).</param>
    /// <param name="testSize">Test rows, 0 to the MNIST test size; default all (10,000).</param>
    /// <returns>The three splits.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range; training plus validation rows exceed the MNIST training split.</exception>
    /// <exception cref="ArgumentException">The images are smaller than 7×7.</exception>
    public static BiasedMnistSplits Create(MnistDataset mnist, double conflictingShare = DefaultConflictingShare, int seed = 0,
        int? trainSize = null, int? validationSize = null, int? testSize = null)
        => BiasedMnist.Create(mnist, PatchedMnistBias.Instance, conflictingShare, seed, trainSize, validationSize, testSize);
}
