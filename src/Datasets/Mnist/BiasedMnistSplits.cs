namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>The three splits <see cref="PatchedMnist.Create"/> or <see cref="StripedMnist.Create"/> makes.</summary>
/// <param name="Train">Attribute = label's own value except for exactly the bias-conflicting share of each class.</param>
/// <param name="Validation">Attributes balanced within each class (from MNIST training rows not in <paramref name="Train"/>).</param>
/// <param name="Test">Attributes balanced within each class (from the MNIST test split).</param>
/// <param name="ConflictingShare">The bias-conflicting share of the training rows, 0 to 1.</param>
/// <param name="Seed">The seed the splits were made with.</param>
public sealed record BiasedMnistSplits(BiasedMnistSplit Train, BiasedMnistSplit Validation, BiasedMnistSplit Test, double ConflictingShare, int Seed);
