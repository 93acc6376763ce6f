using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Transforms;

namespace Microsoft.ML;

/// <summary>Catalog entries for <see cref="PretrainedFeaturesEstimator"/>.</summary>
public static class PretrainedFeaturesCatalog
{
    /// <summary>
    /// Penultimate features of a frozen, pretrained backbone over an image column (see
    /// <see cref="PretrainedFeaturesEstimator"/>): a <c>Vector&lt;Single, FeatureDimension&gt;</c> column.
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="backbone">The backbone, e.g. <see cref="FeatureBackbone.ImageNetResNet18"/>. The estimator takes its
    /// feature graph and identity now and keeps no reference to it: the backbone may be disposed as soon as this returns.</param>
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
        CheckColumns(outputColumnName, inputColumnName);
        return new PretrainedFeaturesEstimator(catalog, BackboneGraphs.From(backbone), outputColumnName, inputColumnName ?? outputColumnName);
    }

    /// <summary>
    /// Penultimate features of a built-in pretrained backbone over an image column, without a <see cref="FeatureBackbone"/>
    /// to create and dispose: the backbone is created, its feature graph taken, and disposed before this returns.
    /// </summary>
    /// <remarks>
    /// <see cref="PretrainedWeightsSource.ImageNetResNet18"/> is the ImageNet ResNet-18 of the NuGet package
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (0.24.0, the version this library references; 0.23.1 ships the same
    /// file): 512 features per image from ImageNet-normalised RGB at 3x224x224, i.e. the output of
    /// <c>ImageNetPreprocessing()</c> with its default sizes. The same as
    /// <c>PretrainedFeatures(FeatureBackbone.ImageNetResNet18(modelPath), ...)</c>.
    /// </remarks>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="weights">The built-in weights: <see cref="PretrainedWeightsSource.ImageNetResNet18"/> (the only one;
    /// <see cref="PretrainedWeightsSource.None"/> has no backbone and is refused).</param>
    /// <param name="outputColumnName">The feature column (default <c>Features</c>, the trainers' default feature column,
    /// which replaces the image column of the same name).</param>
    /// <param name="inputColumnName">The image column, a <c>Vector&lt;Single, 150528&gt;</c> (3x224x224, from
    /// <c>ImageNetPreprocessing()</c>); null (default) for <paramref name="outputColumnName"/>.</param>
    /// <param name="modelPath">The package's <c>ResNet18.onnx</c>; null (default) to look for it where the package puts it
    /// (<c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> in the application's output folder).</param>
    /// <returns>The estimator.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weights"/> is not a built-in backbone.</exception>
    /// <exception cref="ArgumentException">A column name is empty.</exception>
    /// <exception cref="FileNotFoundException">The model file was not found; the message names the package to reference.</exception>
    public static PretrainedFeaturesEstimator PretrainedFeatures(this TransformsCatalog catalog, PretrainedWeightsSource weights,
        string outputColumnName = "Features", string? inputColumnName = null, string? modelPath = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (weights != PretrainedWeightsSource.ImageNetResNet18)
            throw new ArgumentOutOfRangeException(nameof(weights), weights,
                "weights must be PretrainedWeightsSource.ImageNetResNet18 (the built-in backbone); for other weights pass a FeatureBackbone (FeatureBackbone.FromPretrainedWeights).");
        CheckColumns(outputColumnName, inputColumnName);
        using var backbone = FeatureBackbone.ImageNetResNet18(modelPath);
        return new PretrainedFeaturesEstimator(catalog, BackboneGraphs.From(backbone), outputColumnName, inputColumnName ?? outputColumnName);
    }

    private static void CheckColumns(string outputColumnName, string? inputColumnName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        if (inputColumnName is not null) ArgumentException.ThrowIfNullOrWhiteSpace(inputColumnName);
    }
}
