using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// A trained network as an ML.NET transformer: adds <c>Score</c> (the class probabilities, a known-size float
/// vector of K values) and <c>PredictedLabel</c> (a key column with the label's key values), so that
/// <c>MulticlassClassification.Evaluate</c>, <c>EvaluateGroups</c>, <c>MapKeyToValue</c> and
/// <c>PredictionEngine</c> work on its output.
/// </summary>
/// <remarks>
/// Scoring runs on ONNX Runtime through a chain of ML.NET's own transformers over an ONNX export of the
/// network, and <c>mlContext.Model.Save</c> writes that chain: the weights travel inside the model zip, and
/// <c>mlContext.Model.Load</c> gives back a plain <see cref="TransformerChain{TLastTransformer}"/> that needs
/// neither TorchSharp nor any file beside the zip. <see cref="Network"/> keeps the trained TorchSharp network
/// (for traces, fine-tuning or <see cref="ExportOnnx"/>).
/// </remarks>
public sealed class ClassifierNetworkTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> chain;

    internal ClassifierNetworkTransformer(ClassifierNetwork network, TransformerChain<ITransformer> chain, string featureColumnName,
        IReadOnlyList<string> classNames, TrainingHistory history, RowDiagnostics? rows = null)
    {
        Rows = rows;
        Network = network;
        this.chain = chain;
        FeatureColumnName = featureColumnName;
        ClassNames = classNames;
        History = history;
    }

    /// <summary>The trained network, in evaluation mode.</summary>
    public ClassifierNetwork Network { get; }

    /// <summary>The feature column the model reads.</summary>
    public string FeatureColumnName { get; }

    /// <summary>Class names in key order (the label's key values as text, or the zero-based index).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Per-epoch history of the training run and the epoch the weights come from.</summary>
    public TrainingHistory History { get; }

    /// <summary>FlatDebias only (null otherwise): each training row's final multiplier and measured trace.</summary>
    public RowDiagnostics? Rows { get; }

    /// <summary>The ML.NET transformer chain that scores (and is saved).</summary>
    public TransformerChain<ITransformer> ScoringChain => chain;

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return chain.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return ((ITransformer)chain).GetRowToRowMapper(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return chain.Transform(input);
    }

    /// <summary>Writes the network as a standalone ONNX model (input <c>[N, C, H, W]</c>, outputs the class
    /// probabilities and the predicted index): it runs wherever ONNX Runtime runs.</summary>
    /// <param name="destination">A writable stream, left open.</param>
    /// <param name="options">Names and shapes; null for the defaults (the class names are added as the
    /// <c>predicted_label</c> output unless options say otherwise).</param>
    public void ExportOnnx(Stream destination, OnnxExportOptions? options = null)
        => OnnxExport.Export(Network, destination, options ?? new OnnxExportOptions { LabelValues = ClassNames.ToArray() });

    /// <summary>Saves the scoring chain (ML.NET's transformers over the ONNX graph) into an ML.NET model.</summary>
    /// <param name="ctx">ML.NET's save context.</param>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)chain).Save(ctx);

    /// <summary>Disposes the TorchSharp network and the scoring chain (its ONNX Runtime session), and deletes the chain's
    /// graph file (in the temporary folder's <c>mlnet-flatdebias-onnx/</c>): save the model, or a chain that holds it,
    /// before disposing it; a model saved and loaded again does not need the file.</summary>
    public void Dispose()
    {
        chain.Dispose();
        MlNetScoringChain.DeleteGraphFile(chain);
        Network.Dispose();
    }

    private void CheckInput(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        var column = SchemaGuard.RequireColumn(schema, "feature", FeatureColumnName);
        var expected = Network.InputShape.Size;
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType v } vector || v != NumberDataViewType.Single || vector.Size != expected)
            throw SchemaGuard.Mismatch("feature", FeatureColumnName, $"Vector<Single, {expected}>", SchemaGuard.Describe(column.Type));
    }
}
