using System.Globalization;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// One check of the convolution backend: a <see cref="ConvolutionShape"/> computed by one <see cref="ConvolutionPath"/>
/// in float32 and compared with the same convolution in float64, at each thread count listed. Errors are normwise:
/// <c>max |float32 - float64| / max |float64|</c> over the whole result, the worst over the thread counts; NaN when the
/// float32 result has a NaN.
/// </summary>
/// <param name="Shape">The convolution.</param>
/// <param name="Path">How it was computed.</param>
/// <param name="ForwardError">Error of the output.</param>
/// <param name="InputGradientError">Error of the gradient with respect to the input (backward by data), or null when the
/// shape takes no input gradient.</param>
/// <param name="WeightGradientError">Error of the gradient with respect to the weight (backward by weights).</param>
/// <param name="SecondOrderError">For <see cref="ConvolutionShape.SecondOrder"/> shapes, the worst error of the gradients of
/// the summed squares of the first-order gradients with respect to the input, the weight and the output gradient (every
/// term of the double backward); null otherwise.</param>
/// <param name="Threads">The intra-op thread counts it ran at.</param>
/// <param name="Tolerance">The largest error that passes.</param>
/// <param name="Seconds">Wall-clock time of the check.</param>
public sealed record ConvolutionCheck(ConvolutionShape Shape, ConvolutionPath Path, double ForwardError, double? InputGradientError,
    double WeightGradientError, double? SecondOrderError, IReadOnlyList<int> Threads, double Tolerance, double Seconds)
{
    /// <summary>True when every error measured is within <see cref="Tolerance"/>.</summary>
    public bool Passed => Within(ForwardError) && Within(InputGradientError ?? 0) && Within(WeightGradientError) && Within(SecondOrderError ?? 0);

    /// <summary>The operations that failed, e.g. <c>backward by data (input gradient) 0.82</c>; empty when it passed.</summary>
    public string Failures => string.Join(", ", new[]
        {
            ("forward", ForwardError),
            ("backward by data (input gradient)", InputGradientError ?? 0),
            ("backward by weights (weight gradient)", WeightGradientError),
            ("second-order gradients", SecondOrderError ?? 0),
        }.Where(e => !Within(e.Item2)).Select(e => e.Item1 + " " + e.Item2.ToString("G3", CultureInfo.InvariantCulture)));

    /// <summary>One line: shape, path, the errors and the verdict.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"{Shape}, {Path}: forward {ForwardError:G3}, input gradient {Text(InputGradientError, "not taken")}, weight gradient {WeightGradientError:G3}, second order {Text(SecondOrderError, "not taken")} (threads {string.Join("/", Threads)}; tolerance {Tolerance:G3}) -> {(Passed ? "right" : "WRONG")}");

    private static string Text(double? error, string none) => error is double e ? e.ToString("G3", CultureInfo.InvariantCulture) : none;

    private bool Within(double error) => error <= Tolerance; // NaN fails
}
