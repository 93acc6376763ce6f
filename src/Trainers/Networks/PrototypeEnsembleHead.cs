using MLNet.FlatDebias.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// The last layer of a model fitted by <see cref="LastLayer.DpeTrainer"/> (Diverse Prototypical Ensembles, To et al.
/// 2025): an ensemble of M prototype classifiers over the frozen network's features, each with one unit prototype per
/// class and a distance scale. Takes the features <c>[N, D]</c> and returns <c>log(mean_m softmax(-s_m d_m))</c>
/// <c>[N, K]</c>, so that the softmax of the output is the ensemble's mean probability and its arg-max the ensemble's
/// prediction.
/// </summary>
/// <remarks>
/// <para>Each feature row is centred over its own values and scaled to unit length,
/// <c>x_hat = (x - mean(x)) / max(||x - mean(x)||, 1e-12)</c> (the reference standardises each row, then L2-normalises
/// it; the standard deviation cancels). The distance to a unit prototype <c>p</c> is
/// <c>d = sqrt(max(2 - 2 x_hat . p, 1e-12))</c>: the Euclidean distance of two unit vectors, in the one form used
/// by training, by this module and by the ONNX graph alike. (A constant feature row has <c>x_hat = 0</c> and the same
/// distance to every prototype: a uniform vote.)</para>
/// <para>State-dictionary entries (buffers, not trained further): <c>directions</c> <c>[M * K, D]</c>, member m's
/// prototype of class k in row <c>m * K + k</c>, each of unit length; <c>scales</c> <c>[M]</c>, the members' distance
/// scales <c>|s_m|</c> (at least 0).</para>
/// </remarks>
public sealed class PrototypeEnsembleHead : nn.Module<Tensor, Tensor>
{
    /// <summary>The floor under a row's length before it is divided by it, as PyTorch's <c>F.normalize</c>.</summary>
    internal const double NormFloor = 1e-12;

    /// <summary>The floor under a squared distance before its square root, so that its gradient stays finite.</summary>
    internal const double SquaredDistanceFloor = 1e-12;

    // The floors as process-lived scalars: an implicit one can be finalised while libtorch reads it (HeldScalars).
    private static readonly Scalar NormFloorScalar = NormFloor.ToScalar();
    private static readonly Scalar SquaredDistanceFloorScalar = SquaredDistanceFloor.ToScalar();

#pragma warning disable IDE1006 // PyTorch-style state names.
    private readonly Tensor directions;
    private readonly Tensor scales;
#pragma warning restore IDE1006

    /// <summary>Creates an ensemble head with zero prototypes and scales of 1 (filled by the trainer or by loading).</summary>
    /// <param name="members">Ensemble members M; at least 1.</param>
    /// <param name="classes">Classes K; at least 2.</param>
    /// <param name="featureDimension">Feature size D; at least 2.</param>
    public PrototypeEnsembleHead(int members, int classes, long featureDimension) : base("prototypes")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(members, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(featureDimension, 2);
        Members = members;
        Classes = classes;
        FeatureDimension = featureDimension;
        directions = zeros([(long)members * classes, featureDimension]);
        scales = ones([members]);
        register_buffer("directions", directions);
        register_buffer("scales", scales);
    }

    /// <summary>Ensemble members M.</summary>
    public int Members { get; }

    /// <summary>Classes K.</summary>
    public int Classes { get; }

    /// <summary>Feature size D.</summary>
    public long FeatureDimension { get; }

    /// <summary>The unit prototypes <c>[M * K, D]</c> (member m's class k in row <c>m * K + k</c>).</summary>
    public Tensor Directions => directions;

    /// <summary>The members' distance scales <c>[M]</c>.</summary>
    public Tensor Scales => scales;

    /// <summary>The log of the ensemble's mean probabilities <c>[N, K]</c> for features <c>[N, D]</c>.</summary>
    /// <param name="features">The frozen network's features.</param>
    /// <returns><c>log(mean_m softmax(-scales[m] * d_m))</c>.</returns>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var distances = Distances(NormalizeRows(features), directions).view(-1, Members, Classes);
        var probabilities = nn.functional.softmax(-scales.view(Members, 1) * distances, 2).mean([1]);
        return probabilities.log().MoveToOuterDisposeScope();
    }

    /// <summary>Fills the head: <paramref name="unitPrototypes"/> <c>[M * K, D]</c> and <paramref name="memberScales"/>
    /// <c>[M]</c> are copied.</summary>
    internal void Set(Tensor unitPrototypes, Tensor memberScales)
    {
        using var noGrad = no_grad();
        directions.copy_(unitPrototypes);
        scales.copy_(memberScales);
    }

    /// <summary>Each row centred over its own values and scaled to unit length (floor <see cref="NormFloor"/>).</summary>
    internal static Tensor NormalizeRows(Tensor x)
    {
        var centred = x - x.mean([1], keepdim: true);
        return centred / centred.norm(1, keepdim: true).clamp_min(NormFloorScalar);
    }

    /// <summary>Rows scaled to unit length (floor <see cref="NormFloor"/>), not centred: how raw prototypes become unit ones.</summary>
    internal static Tensor UnitRows(Tensor p) => p / p.norm(1, keepdim: true).clamp_min(NormFloorScalar);

    /// <summary>Distances <c>[N, P]</c> of unit rows <paramref name="xHat"/> <c>[N, D]</c> to unit prototypes
    /// <paramref name="unitPrototypes"/> <c>[P, D]</c>: <c>sqrt(max(2 - 2 x . p, 1e-12))</c>.</summary>
    internal static Tensor Distances(Tensor xHat, Tensor unitPrototypes)
        => xHat.matmul(unitPrototypes.t()).mul(HeldScalars.Two).neg().add(HeldScalars.Two, HeldScalars.One) // 2 - 2 x . p, scalars held
            .clamp_min(SquaredDistanceFloorScalar).sqrt();
}
