namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>
/// The tests' shared floating-point tolerances, each with the reason for its size. Checks never round to N
/// decimals (two values 1e-8 apart fail whenever they straddle a rounding boundary, which depends on the CPU).
/// </summary>
internal static class Tolerance
{
    /// <summary>
    /// Ratios of row counts (accuracies, group shares, weights that sum to one) computed in double by two different
    /// routes: they agree to a few ulps (about 1e-16), while one row counted wrongly moves them by 1/N, at least 1e-4
    /// on the tests' sets. Absolute.
    /// </summary>
    public const double CountRatio = 1e-12;

    /// <summary>
    /// Float32 class probabilities computed by ONNX Runtime and by TorchSharp from the same weights: different kernels
    /// and summation orders differ by about 1e-7 (seen up to 6e-8 on ResNet-18); 1e-5 absolute leaves room for other
    /// CPUs' vector widths and still catches a wrong weight or layer, which moves probabilities by far more.
    /// </summary>
    public const double OnnxVsTorchProbability = 1e-5;
}
