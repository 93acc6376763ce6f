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

    /// <summary>
    /// One float32 operation (convolution with its gradients and second-order gradients, batch norm, pooling, linear,
    /// cross-entropy, a trace's per-layer norms) against the same operation in float64, as a normwise relative error
    /// (max |float32 - float64| / max |float64|): measured here at 6e-8..8e-6, the largest for the weight gradient of a
    /// 7x7 convolution summed over 25,000 positions. 1e-4 leaves a factor of 12 for other CPUs' summation orders and
    /// catches a wrong kernel, whose errors here were 0.07 to 1 or NaN.
    /// </summary>
    public const double BackendOperation = 1e-4;

    /// <summary>
    /// A whole network's training gradients, per-sample traces and the traces' gradients, in float32 against float64
    /// (normwise relative, per tensor): rounding compounds through a dozen layers and training-mode batch norms (measured
    /// here up to 3e-4 on the networks at 28 to 64 px, and 4.5e-3 on a ResNet-18 at 224 px trained in batches of 2), so
    /// 2e-2; a wrong kernel anywhere moved gradients by 0.2 to 1.
    /// </summary>
    public const double BackendNetwork = 2e-2;

    /// <summary>
    /// Class probabilities of a small network trained for a few steps by two convolution backends (oneDNN's AVX2 kernels
    /// and the guarded full AVX-512 width): every step's rounding differs, and they agreed here to 1e-7; 1e-4 absolute
    /// leaves room for longer divergence on other CPUs, while training on the defective kernels unguarded moved them by 1e-2.
    /// </summary>
    public const double ScoresAcrossBackends = 1e-4;
}
