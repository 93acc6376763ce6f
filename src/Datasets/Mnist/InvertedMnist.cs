namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Inverted MNIST, a 2-class biased set whose spurious attribute is the image's polarity: label = whether the digit is
/// 5 or more (class <c>low</c> = digits 0 to 4, <c>high</c> = 5 to 9); attribute = <c>dark</c> (MNIST as it is: white ink
/// on black) or <c>light</c> (every pixel inverted: black ink on white). Polarity k goes with class k for all training
/// rows but a bias-conflicting share; polarities are balanced in validation and test. Groups are (class, polarity)
/// pairs. Drawn unlike every other set of this library: no colour, no texture, no patch, no background scene, a cue over
/// the whole image. Added 2026-12-06 as a report-only set of the fair benchmark (issue 31).
/// </summary>
/// <remarks>
/// <para>Made deterministically from the seed as <see cref="PatchedMnist"/> and <see cref="StripedMnist"/> are (the same
/// rows, the same assignment of bias-conflicting rows); pixel values <c>pixel / 255</c>, then <c>1 - value</c> for the
/// <c>light</c> rows. Data view columns <c>Features</c> (<c>Vector&lt;Single, 1, 28, 28&gt;</c>), <c>Label</c>,
/// <c>Polarity</c> and <c>Group</c>; see <see cref="BiasedMnistSplit"/>.</para>
/// </remarks>
public static class InvertedMnist
{
    /// <summary>Default bias-conflicting share of each training class: 0.02.</summary>
    public const double DefaultConflictingShare = BiasedMnist.DefaultConflictingShare;

    /// <summary>The attribute column's name: <c>Polarity</c>.</summary>
    public const string AttributeColumnName = "Polarity";

    /// <summary>The classes: <c>low</c> (digits 0 to 4), <c>high</c> (5 to 9).</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ["low", "high"];

    /// <summary>The polarities: <c>dark</c> (MNIST's own), <c>light</c> (inverted).</summary>
    public static IReadOnlyList<string> PolarityNames { get; } = ["dark", "light"];

    /// <summary>The groups, <c>class/polarity</c>: <c>low/dark</c>, <c>low/light</c>, <c>high/dark</c>, <c>high/light</c>.</summary>
    public static IReadOnlyList<string> GroupNames => InvertedMnistBias.Instance.GroupNames;

    /// <summary>Makes the training, validation and test splits.</summary>
    /// <param name="mnist">The MNIST images.</param>
    /// <param name="conflictingShare">Share of each training class drawn in the other polarity. Default 0.02. Range [0, 1].</param>
    /// <param name="seed">Seed of the row choice and the attribute assignment. Default 0.</param>
    /// <param name="trainSize">Training rows (default: as <see cref="PatchedMnist.Create"/>).</param>
    /// <param name="validationSize">Validation rows (default: as <see cref="PatchedMnist.Create"/>).</param>
    /// <param name="testSize">Test rows (default: as <see cref="PatchedMnist.Create"/>).</param>
    /// <returns>The three splits.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="conflictingShare"/> outside [0, 1], or a size out of range.</exception>
    public static BiasedMnistSplits Create(MnistDataset mnist, double conflictingShare = DefaultConflictingShare, int seed = 0,
        int? trainSize = null, int? validationSize = null, int? testSize = null)
        => BiasedMnist.Create(mnist, InvertedMnistBias.Instance, conflictingShare, seed, trainSize, validationSize, testSize);
}

/// <summary>Inverted MNIST's rule: label = digit &gt;= 5; attribute 1 inverts every pixel.</summary>
internal sealed class InvertedMnistBias() : MnistBias(InvertedMnist.ClassNames, InvertedMnist.PolarityNames, InvertedMnist.AttributeColumnName)
{
    public static InvertedMnistBias Instance { get; } = new();

    public override int MinimumSide => 1;

    public override int Label(int digit) => digit >= 5 ? 1 : 0;

    public override void Draw(Span<float> image, int height, int width, int attribute)
    {
        if (attribute == 0) return;
        for (int p = 0; p < height * width; p++) image[p] = 1f - image[p];
    }
}
