using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// Runs a frozen, pretrained backbone (<see cref="FeatureBackbone"/>) over an image column and outputs its penultimate
/// features: a <c>Vector&lt;Single, FeatureDimension&gt;</c> column (512 values for a ResNet-18) that the trainers take
/// with <c>Network = NetworkKind.Linear</c> or <c>NetworkKind.Mlp</c>. Create it with
/// <c>mlContext.Transforms.PretrainedFeatures</c> (<see cref="PretrainedFeaturesCatalog"/>).
/// </summary>
/// <remarks>
/// <para>Input: a known-size Single vector of <c>C*H*W</c> values in planar order, the backbone's
/// <see cref="FeatureBackbone.InputShape"/> (as <c>ImageNetPreprocessing</c> makes it; the ImageNet ResNet-18 takes
/// ImageNet-normalised RGB at 224 x 224).</para>
/// <para>Engine: ONNX Runtime, through ML.NET's own <c>ApplyOnnxModel</c> (as ML.NET's <c>DnnFeaturizeImage</c> does)
/// over the backbone's feature graph written by <see cref="Trainers.Onnx.OnnxExport"/>'s writers. It was measured
/// against TorchSharp in evaluation mode without gradients, batched, on the same images (the benchmark program's
/// <c>extraction</c> suite; the README gives the images per second of both) and chosen because it is the faster of
/// the two on a CPU here, and because it is what is saved: <c>mlContext.Model.Save</c> writes ML.NET's own
/// transformers with the ONNX bytes inside the zip, and <c>Model.Load</c> gives the same features without
/// TorchSharp.</para>
/// <para>Like every ML.NET transform it is lazy: each read of the output runs the backbone again. Read it once, e.g.
/// into a <see cref="FeatureFile"/>, which also reuses the features across runs.</para>
/// <para>The estimator takes what it needs from the backbone when it is created (the feature graph as ONNX, the name,
/// fingerprint, feature size and input shape) and keeps no reference to it: the backbone may be disposed at once.</para>
/// </remarks>
public sealed class PretrainedFeaturesEstimator : IEstimator<PretrainedFeaturesTransformer>
{
    /// <summary>The name the ONNX graph gives its input; the input column is bound to it.</summary>
    internal const string GraphInputName = "FlatDebias.BackboneInput";

    /// <summary>The temporary column the graph writes, copied to the output column and dropped.</summary>
    internal const string GraphOutputName = "FlatDebias.BackboneFeatures";

    private readonly TransformsCatalog _catalog;
    private readonly BackboneGraphs _backbone;
    private readonly string _outputColumnName;
    private readonly string _inputColumnName;

    internal PretrainedFeaturesEstimator(TransformsCatalog catalog, BackboneGraphs backbone, string outputColumnName, string inputColumnName)
    {
        _catalog = catalog;
        _backbone = backbone;
        _outputColumnName = outputColumnName;
        _inputColumnName = inputColumnName;
    }

    /// <summary>The backbone's readable name (<see cref="FeatureBackbone.Name"/>).</summary>
    public string BackboneName => _backbone.Name;

    /// <summary>The backbone's identity, weights hash included (<see cref="FeatureBackbone.Fingerprint"/>).</summary>
    public string BackboneFingerprint => _backbone.Fingerprint;

    /// <summary>Number of features per row: the size of the output vector (512 for a ResNet-18).</summary>
    public int FeatureDimension => _backbone.FeatureDimension;

    /// <summary>The image shape the backbone takes; the input column is a Single vector of its size.</summary>
    public ImageShape InputShape => _backbone.InputShape;

    /// <summary>Builds the transformer for <paramref name="input"/>'s schema; no row is read and nothing is learnt.</summary>
    /// <param name="input">Data with the input image column.</param>
    /// <returns>The fitted transformer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing, or is not a known-size Single vector
    /// of the backbone's input size (ML.NET's wording, naming the column).</exception>
    public PretrainedFeaturesTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        var chain = new TransformerChain<ITransformer>([.. Estimators().Fit(input)]);
        return new PretrainedFeaturesTransformer(chain, _backbone.BatchFormOnnx, _backbone.Name, _backbone.Fingerprint, _backbone.FeatureDimension,
            _outputColumnName, _inputColumnName, _backbone.InputShape);
    }

    /// <summary>The schema after the transform: the input columns and the feature column.</summary>
    /// <param name="inputSchema">The input's schema shape.</param>
    /// <returns>The output's schema shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or not a Single vector.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var column = SchemaGuard.RequireColumn(inputSchema, "image", _inputColumnName);
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single)
            throw SchemaGuard.Mismatch("image", column.Name, $"Vector<Single, {_backbone.InputShape.Size}>", $"{column.Kind} of {column.ItemType}");
        // ML.NET keeps SchemaShape's column constructor internal: the real chain's estimators derive the shape.
        return Estimators().GetOutputSchema(inputSchema);
    }

    /// <summary>Copy the image column to the graph's input name, run the graph, copy its output to the output column,
    /// drop the two temporary columns.</summary>
    private EstimatorChain<ColumnSelectingTransformer> Estimators()
    {
        return _catalog.CopyColumns(GraphInputName, _inputColumnName)
            // From a file the library keeps (one per graph), not a stream: ML.NET would copy a stream to a temporary file
            // that only disposing the transformer deletes (OnnxModelFiles).
            .Append(_catalog.ApplyOnnxModel([GraphOutputName], [GraphInputName], OnnxModelFiles.PathFor(_backbone.RowFormOnnx)))
            .Append(_catalog.CopyColumns(_outputColumnName, GraphOutputName))
            .Append(_catalog.DropColumns(GraphInputName, GraphOutputName));
    }

    private void CheckInput(DataViewSchema schema)
    {
        var column = SchemaGuard.RequireColumn(schema, "image", _inputColumnName);
        if (column.Type is not VectorDataViewType { IsKnownSize: true } vector || vector.ItemType != NumberDataViewType.Single
            || vector.Size != _backbone.InputShape.Size)
        {
            throw SchemaGuard.Mismatch("image", _inputColumnName,
                $"Vector<Single, {_backbone.InputShape.Size}> (the backbone's input {_backbone.InputShape}, e.g. from ImageNetPreprocessing)",
                SchemaGuard.Describe(column.Type));
        }
    }
}
