using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Infrastructure;

internal static class TensorAssert
{
    /// <summary>The value of a one-element tensor as a double, whatever its dtype.</summary>
    public static double ToDoubleValue(this Tensor t) => t.to_type(ScalarType.Float64).item<double>();

    /// <summary>True when both tensors have the same shape and identical values.</summary>
    public static bool Identical(this Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>Asserts max |a - b| &lt;= tolerance * max(1, max |b|).</summary>
    public static void Close(Tensor expected, Tensor actual, double tolerance, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        double scale = Math.Max(1.0, expected.abs().max().ToDoubleValue());
        double error = (expected - actual).abs().max().ToDoubleValue();
        Assert.True(error <= tolerance * scale, $"{what}: max abs error {error:G4} exceeds {tolerance:G3} x {scale:G4}");
    }

    /// <summary>Asserts elementwise |a - b| &lt;= tolerance * |b| + tiny (relative per element).</summary>
    public static void RelativeClose(Tensor expected, Tensor actual, double tolerance, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = NewDisposeScope();
        var error = (expected - actual).abs();
        var bound = expected.abs() * tolerance + 1e-12;
        var worst = (error / bound).max().ToDoubleValue();
        Assert.True(worst <= 1.0, $"{what}: relative error {worst * tolerance:G4} exceeds {tolerance:G3}");
    }

    /// <summary>Asserts equal lengths and max |expected[i] - actual[i]| &lt;= <paramref name="absoluteTolerance"/>.</summary>
    public static void AllClose(IReadOnlyList<float> expected, IReadOnlyList<float> actual, double absoluteTolerance, string what = "")
    {
        Assert.Equal(expected.Count, actual.Count);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Count; i++)
        {
            double error = Math.Abs((double)expected[i] - actual[i]);
            if (!(error <= worst)) (worst, at) = (error, i);
        }
        Assert.True(worst <= absoluteTolerance, $"{what}: max abs error {worst:G4} at index {at} exceeds {absoluteTolerance:G3}");
    }
}
