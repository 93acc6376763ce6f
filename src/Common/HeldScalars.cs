using TorchSharp;

namespace MLNet.FlatDebias.Common;

/// <summary>
/// Constants as TorchSharp <see cref="Scalar"/>s that live for the whole process. An implicit conversion
/// (<c>tensor + 1</c>, <c>tensor.pow(2)</c>, <c>1 - tensor</c>; and <c>add(scalar)</c>'s own <c>alpha = 1</c>) makes a
/// finalisable temporary whose native handle TorchSharp 0.107 passes on as a raw pointer; so does <c>tensor + tensor</c>,
/// whose <c>alpha = 1</c> is such a temporary. When the garbage collector finalises it during the native call, libtorch
/// reads freed memory: "Unknown scalar type" in <c>add_scalar</c> and "Expected false to be true" in <c>toFloat</c> under
/// <c>add</c>, each seen once in about 500 FlatDebias trainings of the fair benchmark on 2026-12-05 (two processes on 2
/// cores), and "Expected false to be true" in <c>toLong</c> under <c>gt(0)</c> once on 2026-12-06 (a frozen-feature
/// benchmark, four processes on 2 cores). FlatDebias's step and the other objectives' weight sums use these, or a
/// <c>using</c> Scalar held across the call, instead.
/// </summary>
internal static class HeldScalars
{
    /// <summary>0, for comparisons (<c>gt(HeldScalars.Zero)</c>).</summary>
    public static readonly Scalar Zero = 0.0.ToScalar();

    /// <summary>1.</summary>
    public static readonly Scalar One = 1.0.ToScalar();

    /// <summary>2, the exponent of a square: TorchSharp's <c>square()</c> is <c>pow(2)</c> with an implicit exponent (the
    /// <c>pow_Tensor_Scalar</c> "INTERNAL ASSERT FAILED" of 2026-12-06), so squares are <c>pow(HeldScalars.Two)</c>.</summary>
    public static readonly Scalar Two = 2.0.ToScalar();

    /// <summary>1e-12, the floor of a weight sum.</summary>
    public static readonly Scalar Tiny = 1e-12.ToScalar();

    /// <summary>true, for filling boolean masks (<c>index_fill_(0, indices, HeldScalars.True)</c>: an implicit <c>true</c> was
    /// read freed once, as libtorch's <c>toBool</c> "Expected false to be true", on 2026-12-06).</summary>
    public static readonly Scalar True = true.ToScalar();
}
