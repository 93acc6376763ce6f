using Microsoft.ML;
using MLNet.FlatDebias.Transforms;

namespace Microsoft.ML;

/// <summary>Catalog entry for <see cref="PretrainedFeaturesEstimator"/>.</summary>
public static class PretrainedFeaturesCatalog
{
    /// <summary>
    /// Penultimate features of a frozen, pretrained backbone over an image column (see
    /// <see cref="PretrainedFeaturesEstimator"/>): a <c>Vector&lt;Single, FeatureDimension&gt;</c> column.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="backbone">The backbone, e.g. <see cref="FeatureBackbone.ImageNetResNet18"/>; the transform keeps a
    /// reference until it is fitted (its ONNX graph is written then), so dispose the backbone after <c>Fit</c>.</param>
    /// <param name="outputColumnName">The feature column (default <c>Features</c>, the trainers' default feature column,
    /// which replaces the image column of the same name).</param>
    /// <param name="inputColumnName">The image column, a Single vector of the backbone's input size; null (default)
    /// for <paramref name="outputColumnName"/>.</param>
    /// <returns>The estimator.</returns>
    /// <exception cref="ArgumentException">A column name is empty.</exception>
    public static PretrainedFeaturesEstimator PretrainedFeatures(this TransformsCatalog catalog, FeatureBackbone backbone,
        string outputColumnName = "Features", string? inputColumnName = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(backbone);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        if (inputColumnName is not null) ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
        return new PretrainedFeaturesEstimator(catalog, backbone, outputColumnName, inputColumnName ?? outputColumnName);
    }
}
