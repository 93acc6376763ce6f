using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Onnx;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// What <see cref="PretrainedFeaturesEstimator"/> needs from a <see cref="FeatureBackbone"/>, taken when the estimator
/// is created: the backbone's feature graph as ONNX in the two forms the transform runs, and its identity. The
/// estimator holds no TorchSharp network, so the backbone may be disposed as soon as the estimator exists.
/// </summary>
/// <param name="Name">The backbone's readable name (<see cref="FeatureBackbone.Name"/>).</param>
/// <param name="Fingerprint">The backbone's identity, weights hash included (<see cref="FeatureBackbone.Fingerprint"/>).</param>
/// <param name="FeatureDimension">Features per image.</param>
/// <param name="InputShape">The image shape the backbone takes.</param>
/// <param name="RowFormOnnx">The graph ML.NET's <c>ApplyOnnxModel</c> runs, one row per call, with input
/// <see cref="PretrainedFeaturesEstimator.GraphInputName"/> and output <see cref="PretrainedFeaturesEstimator.GraphOutputName"/>.</param>
/// <param name="BatchFormOnnx">The graph <see cref="BatchedFeatureExtractor"/> runs on batches (<c>input</c> to <c>features</c>).</param>
internal sealed record BackboneGraphs(string Name, string Fingerprint, int FeatureDimension, ImageShape InputShape, byte[] RowFormOnnx, byte[] BatchFormOnnx)
{
    /// <summary>Writes both graphs of <paramref name="backbone"/> and reads its identity.</summary>
    public static BackboneGraphs From(FeatureBackbone backbone) => new(
        backbone.Name, backbone.Fingerprint, backbone.FeatureDimension, backbone.InputShape,
        backbone.RowFormOnnx(PretrainedFeaturesEstimator.GraphInputName, PretrainedFeaturesEstimator.GraphOutputName),
        OnnxFeatureExport.BatchForm(backbone.Network, "input", "features"));
}
