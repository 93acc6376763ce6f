using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using Onnx;

using MLNet.FlatDebias.Common;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// Builds the chain of ML.NET's own transformers that scores with a trained network, so that the model saves
/// and loads with <c>mlContext.Model.Save</c>/<c>Load</c> (weights inside the zip, as ONNX) and runs without
/// TorchSharp:
/// <list type="number">
/// <item><c>ApplyOnnxModel</c>: the feature column → the class probabilities (a known-size vector of K).</item>
/// <item>ML.NET's k-means scorer over the probabilities, with its K centroids fixed to the unit vectors
/// <c>e_1..e_K</c>: the nearest unit vector is the most probable class
/// (<c>||p - e_c||^2 = ||p||^2 - 2 p_c + 1</c>), so its cluster is the arg-max. ML.NET's public API has no
/// arg-max transform, and its ONNX transformer cannot emit scalar columns, so this is how a scalar key
/// <c>PredictedLabel</c> is made from public parts.</item>
/// <item><c>MapValue</c> (cluster → label value) and <c>MapValueToKey</c> with the label's own key values as
/// key data: <c>PredictedLabel</c> is a key column with the label's <c>KeyValues</c>, so <c>Evaluate</c>,
/// <c>MapKeyToValue</c> and <c>PredictionEngine</c> work.</item>
/// <item><c>Score</c> = the probabilities; the temporary columns are dropped.</item>
/// </list>
/// </summary>
internal static class MlNetScoringChain
{
    internal const string ProbabilitiesColumn = "FlatDebias.Probabilities";
    private const string ClusterColumn = "FlatDebias.Cluster";
    private const string ValueColumn = "FlatDebias.PredictedValue";

    /// <summary>Each chain's graph file, kept as long as the chain lives.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TransformerChain<ITransformer>, OwnedTemporaryFile> GraphFiles = new();

    /// <summary>The graph file of a chain <see cref="Build"/> made, or null.</summary>
    internal static string? GraphFile(TransformerChain<ITransformer> chain) => GraphFiles.TryGetValue(chain, out var file) ? file.Path : null;

    /// <summary>Deletes the graph file of a chain <see cref="Build"/> made (when its model is disposed; saving needs it).</summary>
    internal static void DeleteGraphFile(TransformerChain<ITransformer> chain)
    {
        if (GraphFiles.TryGetValue(chain, out var file)) file.Dispose();
    }

    public static TransformerChain<ITransformer> Build(MLContext mlContext, ClassifierNetwork network, string featureColumn,
        LabelClasses classes, IDataView schemaSource)
    {
        // Every step below is fitted from schemas and small constant data; no row of schemaSource is read.
        var onnxBytes = RowFormOnnx(network, featureColumn);
        // The graph from a file of the model's own, not a stream: given a stream, ML.NET (6.0) copies it to a temporary
        // file that it never deletes, not even when the transformer is disposed. This file goes when the model is disposed
        // (DeleteGraphFile), garbage-collected, or still alive at exit.
        var file = OnnxModelFiles.CreateOwned(onnxBytes);
        var onnx = mlContext.Transforms.ApplyOnnxModel([ProbabilitiesColumn], [featureColumn], file.Path).Fit(schemaSource);
        var scored = onnx.Transform(schemaSource);

        int k = classes.Count;
        var units = mlContext.Data.LoadFromEnumerable(Enumerable.Range(0, k).Select(c => new UnitRow { Probabilities = OneHot(k, c) }),
            UnitRow.Definition(k));
        var kmeans = new MLContext(seed: 0).Clustering.Trainers.KMeans(new KMeansTrainer.Options
        {
            FeatureColumnName = ProbabilitiesColumn,
            NumberOfClusters = k,
            MaximumNumberOfIterations = 100,
            NumberOfThreads = 1,
        }).Fit(units);
        var clusterOfClass = kmeans.Transform(units).GetColumn<uint>("PredictedLabel").ToArray();
        if (clusterOfClass.Distinct().Count() != k)
            throw new InvalidOperationException("The k-means arg-max scorer did not give each class its own cluster.");
        var clustered = kmeans.Transform(scored);

        var toNumber = mlContext.Transforms.Conversion.ConvertType(ClusterColumn, "PredictedLabel", DataKind.UInt32).Fit(clustered);
        var numbered = toNumber.Transform(clustered);
        var (toValue, toKey) = LabelMapping(mlContext, classes, clusterOfClass, numbered);
        var valued = toValue.Transform(numbered);
        var keyed = toKey.Transform(valued);
        var score = mlContext.Transforms.CopyColumns("Score", ProbabilitiesColumn).Fit(keyed);
        var drop = mlContext.Transforms.DropColumns(ProbabilitiesColumn, ClusterColumn, ValueColumn).Fit(score.Transform(keyed));
        var chain = new TransformerChain<ITransformer>(onnx, kmeans, toNumber, toValue, toKey, score, drop);
        GraphFiles.Add(chain, file);
        return chain;
    }

    /// <summary>The network as ONNX in the form ML.NET feeds it: one row per call, the feature vector flat, the
    /// probabilities a rank-1 tensor of K values (so the column is a known-size vector).</summary>
    internal static byte[] RowFormOnnx(ClassifierNetwork network, string featureColumn)
    {
        var model = OnnxExport.ToModel(network, new OnnxExportOptions
        {
            InputName = featureColumn,
            FlattenedInput = true,
            FixedBatchSize = 1,
            ProbabilitiesName = ProbabilitiesColumn + ".batch",
        });
        var graph = model.Graph;
        var batched = graph.Output.First(o => o.Name == ProbabilitiesColumn + ".batch");
        graph.Output.Clear();
        var axes = new TensorProto { Name = ProbabilitiesColumn + ".squeeze_axes", DataType = (int)TensorProto.Types.DataType.Int64 };
        axes.Dims.Add(1);
        axes.Int64Data.Add(0);
        graph.Initializer.Add(axes);
        var squeeze = new NodeProto { OpType = "Squeeze", Name = ProbabilitiesColumn + ".squeeze" };
        squeeze.Input.Add(batched.Name);
        squeeze.Input.Add(axes.Name);
        squeeze.Output.Add(ProbabilitiesColumn);
        graph.Node.Add(squeeze);
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = network.NumberOfClasses });
        graph.Output.Add(new ValueInfoProto
        {
            Name = ProbabilitiesColumn,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        });
        return model.ToByteArray();
    }

    private static (ITransformer ToValue, ITransformer ToKey) LabelMapping(MLContext mlContext, LabelClasses classes, uint[] clusterOfClass, IDataView numbered)
    {
        return classes.Values switch
        {
            ReadOnlyMemory<char>[] v => Map(mlContext, clusterOfClass, v.Select(x => x.ToString()).ToArray(), numbered),
            float[] v => Map(mlContext, clusterOfClass, v, numbered),
            double[] v => Map(mlContext, clusterOfClass, v, numbered),
            int[] v => Map(mlContext, clusterOfClass, v, numbered),
            uint[] v => Map(mlContext, clusterOfClass, v, numbered),
            long[] v => Map(mlContext, clusterOfClass, v, numbered),
            bool[] v => Map(mlContext, clusterOfClass, v, numbered),
            // No KeyValues (or a type ML.NET cannot map): the class index itself, 0..K-1.
            _ => Map(mlContext, clusterOfClass, Enumerable.Range(0, classes.Count).Select(i => (uint)i).ToArray(), numbered),
        };
    }

    private static (ITransformer, ITransformer) Map<T>(MLContext mlContext, uint[] clusterOfClass, T[] values, IDataView numbered)
    {
        var pairs = clusterOfClass.Select((cluster, c) => new KeyValuePair<uint, T>(cluster, values[c])).ToArray();
        var toValue = mlContext.Transforms.Conversion.MapValue(ValueColumn, pairs, ClusterColumn).Fit(numbered);
        var keyData = mlContext.Data.LoadFromEnumerable(values.Select(v => new ValueRow<T> { Value = v }));
        var toKey = mlContext.Transforms.Conversion.MapValueToKey("PredictedLabel", ValueColumn, keyData: keyData).Fit(toValue.Transform(numbered));
        return (toValue, toKey);
    }

    private static float[] OneHot(int k, int c)
    {
        var v = new float[k];
        v[c] = 1;
        return v;
    }

}

/// <summary>A row of unit vectors for fitting the arg-max scorer (public members for ML.NET's reflection).</summary>
internal sealed class UnitRow
{
    public float[] Probabilities { get; set; } = [];

    public static SchemaDefinition Definition(int k)
    {
        var definition = SchemaDefinition.Create(typeof(UnitRow));
        var column = definition.Single(c => c.MemberName == nameof(Probabilities));
        column.ColumnName = MlNetScoringChain.ProbabilitiesColumn;
        column.ColumnType = new VectorDataViewType(NumberDataViewType.Single, k);
        return definition;
    }
}

/// <summary>A one-column row of label values (key data for MapValueToKey).</summary>
internal sealed class ValueRow<T>
{
    public T Value { get; set; } = default!;
}
