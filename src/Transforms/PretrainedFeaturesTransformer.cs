using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// The fitted <see cref="PretrainedFeaturesEstimator"/>: the backbone's features as a vector column. A thin wrapper over
/// <see cref="Chain"/>, ML.NET's own transformers (<c>ApplyOnnxModel</c> with the backbone's feature graph inside);
/// <c>mlContext.Model.Save</c> saves that chain, and <c>Model.Load</c> returns it as a plain
/// <see cref="TransformerChain{TLastTransformer}"/> that computes the same features without TorchSharp.
/// </summary>
public sealed class PretrainedFeaturesTransformer : ITransformer
{
    private readonly byte[] _batchFormOnnx;

    internal PretrainedFeaturesTransformer(TransformerChain<ITransformer> chain, byte[] batchFormOnnx, string backboneName, string backboneFingerprint,
        int featureDimension, string outputColumnName, string inputColumnName, ImageShape inputShape)
    {
        Chain = chain;
        _batchFormOnnx = batchFormOnnx;
        BackboneName = backboneName;
        BackboneFingerprint = backboneFingerprint;
        FeatureDimension = featureDimension;
        OutputColumnName = outputColumnName;
        InputColumnName = inputColumnName;
        InputShape = inputShape;
    }

    /// <summary>The ML.NET transformers this transformer consists of; this is what is saved.</summary>
    public TransformerChain<ITransformer> Chain { get; }

    /// <summary>The backbone's readable name (<see cref="FeatureBackbone.Name"/>).</summary>
    public string BackboneName { get; }

    /// <summary>The backbone's identity, weights hash included (<see cref="FeatureBackbone.Fingerprint"/>).</summary>
    public string BackboneFingerprint { get; }

    /// <summary>Number of features per row: the size of the output vector.</summary>
    public int FeatureDimension { get; }

    /// <summary>Name of the output feature column.</summary>
    public string OutputColumnName { get; }

    /// <summary>Name of the input image column.</summary>
    public string InputColumnName { get; }

    /// <summary>The image shape the backbone takes.</summary>
    public ImageShape InputShape { get; }

    /// <summary>True: the chain maps row to row.</summary>
    public bool IsRowToRowMapper => ((ITransformer)Chain).IsRowToRowMapper;

    /// <summary>The output schema: the input columns and the feature column.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Chain.GetOutputSchema(inputSchema);

    /// <summary>The chain's row-to-row mapper.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The mapper.</returns>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)Chain).GetRowToRowMapper(inputSchema);

    /// <summary>Applies the backbone lazily: each read of the output runs it again (see <see cref="FeatureFile"/>).</summary>
    /// <param name="input">Data with the input image column.</param>
    /// <returns>The input columns and the feature column.</returns>
    public IDataView Transform(IDataView input) => Chain.Transform(input);

    /// <summary>Every row's features in one pass over <paramref name="input"/>, in batches (see <see cref="BatchedFeatureExtractor"/>),
    /// as <paramref name="input"/> with the feature column appended; the features are held in memory.</summary>
    internal IDataView ExtractBatched(IDataView input, IProgress<long>? progress)
    {
        _ = GetOutputSchema(input.Schema); // ML.NET's own schema errors, naming the column
        var values = BatchedFeatureExtractor.Extract(_batchFormOnnx, input, InputColumnName, InputShape.Size, FeatureDimension, progress);
        return new AppendedVectorDataView(input, OutputColumnName, FeatureDimension, values);
    }

    /// <summary>Saves <see cref="Chain"/>: the model file holds only ML.NET's own transformers.</summary>
    /// <param name="ctx">ML.NET's save context.</param>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)Chain).Save(ctx);
}
