namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>The three splits <see cref="ColoredMnist.Create"/> makes.</summary>
/// <param name="Train">Colour = digit except for exactly the bias-conflicting share of each class.</param>
/// <param name="Validation">Colours uniform within each class (from MNIST training rows not in <paramref name="Train"/>).</param>
/// <param name="Test">Colours uniform within each class (from the MNIST test split).</param>
/// <param name="ConflictingShare">The bias-conflicting share of the training rows, 0 to 1.</param>
/// <param name="Seed">The seed the splits were made with.</param>
public sealed record ColoredMnistSplits(ColoredMnistSplit Train, ColoredMnistSplit Validation, ColoredMnistSplit Test, double ConflictingShare, int Seed);
