using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Runtime;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>A data view's rows as the last-layer methods (DFR, AFR, DPE, FlatDebias's last layer) see them: the fitted
/// model's penultimate features of every row (evaluation mode, no gradient), its label and, when a group column is
/// named, its group. What every last-layer method reads once, checked against the model with the library's messages.</summary>
internal sealed class FrozenModelRows
{
    private FrozenModelRows(float[][] features, int[] labels, int[]? groups, IReadOnlyList<string>? groupNames, ColumnLayout layout)
    {
        Features = features;
        Labels = labels;
        Groups = groups;
        GroupNames = groupNames;
        Layout = layout;
    }

    /// <summary>The penultimate features, one array per row.</summary>
    public float[][] Features { get; }

    /// <summary>The class index of every row.</summary>
    public int[] Labels { get; }

    /// <summary>The group index of every row, or null without a group column.</summary>
    public int[]? Groups { get; }

    /// <summary>The group names (a key column's vocabulary may name groups with no rows), or null.</summary>
    public IReadOnlyList<string>? GroupNames { get; }

    /// <summary>The columns read.</summary>
    public ColumnLayout Layout { get; }

    /// <summary>Row count.</summary>
    public int Count => Labels.Length;

    /// <summary>The classes' names.</summary>
    public IReadOnlyList<string> ClassNames => Layout.Classes.Names;

    /// <summary>Number of classes (the model's).</summary>
    public int ClassCount => Layout.Classes.Count;

    /// <summary>The groups with rows, in index order.</summary>
    public int[] PresentGroups() => Groups is null ? [] : Groups.Distinct().Order().ToArray();

    /// <summary>Reads <paramref name="data"/> through <paramref name="model"/>'s frozen network.</summary>
    /// <param name="model">The fitted model whose features are read.</param>
    /// <param name="data">The rows.</param>
    /// <param name="method">The method's name, for messages (e.g. "AFR").</param>
    /// <param name="role">What the rows are, for messages (e.g. "held-out", "validation").</param>
    /// <param name="labelColumn">Label column: a key column with the model's classes.</param>
    /// <param name="featureColumn">Feature column: a known-size Single vector of the size the model reads.</param>
    /// <param name="groupColumn">Group column (key, string, integer or bool), or null to read none.</param>
    /// <param name="batchSize">Rows per forward pass.</param>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type or size (ML.NET's wording).</exception>
    /// <exception cref="InvalidOperationException">No rows, a missing label or group, or a non-finite feature; the message
    /// names the row or column.</exception>
    public static FrozenModelRows Read(ClassifierNetworkTransformer model, IDataView data, string method, string role,
        string labelColumn, string featureColumn, string? groupColumn, int batchSize)
    {
        RequireLinearHead(model, method);
        if (!DataViewRows.Any(data))
            throw new InvalidOperationException($"The {role} data view has no rows: {method} fits the last layer over the fitted model's features of {role} rows. Check the filter or split that produced it.");
        var layout = CheckColumns(model, data.Schema, labelColumn, featureColumn, groupColumn);
        TorchRuntime.EnsureLoaded();
        using var rows = DataViewTensorReader.Read(data, layout, FeatureStorage.Float32, FeatureCache.Memory, long.MaxValue, Path.GetTempPath(), role);
        var features = Extract(model.Network, rows, batchSize, role);
        return new FrozenModelRows(features, rows.Labels.Select(l => (int)l).ToArray(), rows.Groups, rows.GroupNames, layout);
    }

    /// <summary>Refuses a model whose last layer is not a linear layer: the last-layer methods start from the fitted
    /// model's linear head.</summary>
    /// <exception cref="ArgumentException">The model's last layer is DPE's prototype ensemble (parameter
    /// <c>fittedModel</c>).</exception>
    public static void RequireLinearHead(ClassifierNetworkTransformer model, string method)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Network.PrototypeHead is not null)
            throw new ArgumentException(
                $"{method} re-fits the last linear layer of a fitted model; this model's last layer is DPE's prototype ensemble, not a linear layer. " +
                $"Give {method} the model DPE started from.", "fittedModel");
    }

    /// <summary>Throws unless every class of the model has rows.</summary>
    public void RequireEveryClass(string method, string role)
    {
        var classRows = new int[ClassCount];
        foreach (var l in Labels) classRows[l]++;
        for (int c = 0; c < classRows.Length; c++)
            if (classRows[c] == 0)
                throw new InvalidOperationException($"Class '{ClassNames[c]}' of the label column '{Layout.Label.Name}' has no {role} rows; {method} fits a head over every class of the model.");
    }

    /// <summary>The features of <paramref name="rows"/> (all rows when null) as an [N, D] float tensor on the CPU.</summary>
    public Tensor FeatureTensor(IReadOnlyList<int>? rows = null)
    {
        rows ??= Enumerable.Range(0, Count).ToArray();
        int d = Features.Length == 0 ? 0 : Features[0].Length;
        var flat = new float[(long)rows.Count * d];
        for (int i = 0; i < rows.Count; i++) Features[rows[i]].CopyTo(flat, (long)i * d);
        return tensor(flat, [rows.Count, d]);
    }

    private static ColumnLayout CheckColumns(ClassifierNetworkTransformer model, DataViewSchema schema, string labelColumn, string featureColumn, string? groupColumn)
    {
        var network = model.Network;
        var features = SchemaGuard.RequireColumn(schema, "feature", featureColumn);
        int size = network.InputShape.Size;
        if (features.Type is not VectorDataViewType { ItemType: NumberDataViewType item } vector || item != NumberDataViewType.Single || vector.Size != size)
            throw SchemaGuard.Mismatch("feature", features.Name, $"Vector<Single, {size}> (the size the model reads, {network.InputShape})", SchemaGuard.Describe(features.Type));
        var label = SchemaGuard.RequireColumn(schema, "label", labelColumn);
        var classes = LabelClasses.Read(label);
        if (classes.Count != network.NumberOfClasses)
            throw SchemaGuard.Mismatch("label", label.Name, $"Key with the model's {network.NumberOfClasses} classes", SchemaGuard.Describe(label.Type));
        if (classes.Values is not null && !classes.Names.SequenceEqual(model.ClassNames, StringComparer.Ordinal))
            throw SchemaGuard.Mismatch("label", label.Name, $"Key with the model's classes [{string.Join(", ", model.ClassNames)}]", $"[{string.Join(", ", classes.Names)}]");
        DataViewSchema.Column? group = null;
        if (!string.IsNullOrEmpty(groupColumn))
        {
            group = SchemaGuard.RequireColumn(schema, GroupColumnReader.Role, groupColumn);
            GroupColumnReader.CheckType(group.Value);
        }
        return new ColumnLayout(features, network.InputShape, label, classes, group, null);
    }

    /// <summary>The network's penultimate features of every row, in evaluation mode without gradients; the network's
    /// mode is restored.</summary>
    private static float[][] Extract(ClassifierNetwork network, TensorDataset data, int batchSize, string role)
    {
        bool training = network.training;
        var device = network.Head.weight.device;
        network.eval();
        try
        {
            var result = new float[data.Count][];
            using var noGrad = no_grad();
            for (int start = 0; start < data.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(batchSize, data.Count - start);
                var rows = Enumerable.Range(start, count).Select(i => (long)i).ToArray();
                var batch = network.Features(data.FeatureBatch(rows, device)).cpu().to(ScalarType.Float32).contiguous();
                var values = batch.data<float>().ToArray();
                int d = (int)(values.Length / count);
                for (int i = 0; i < count; i++)
                {
                    var row = values.AsSpan(i * d, d).ToArray();
                    for (int j = 0; j < d; j++)
                        if (!float.IsFinite(row[j]))
                            throw new InvalidOperationException($"The network gave a non-finite feature ({row[j]}) at index {j} for {role} row {start + i}.");
                    result[start + i] = row;
                }
            }
            return result;
        }
        finally
        {
            network.train(training);
        }
    }

    /// <summary>A copy of <paramref name="network"/> (through its ONNX form, which holds every weight and buffer
    /// exactly) on the CPU in evaluation mode, for a last-layer method to give a new head.</summary>
    public static ClassifierNetwork Copy(ClassifierNetwork network)
    {
        var bytes = Google.Protobuf.MessageExtensions.ToByteArray(OnnxExport.ToModel(network));
        var copy = OnnxImport.LoadNetwork(new MemoryStream(bytes));
        copy.eval();
        return copy;
    }

    /// <summary>A copy of <paramref name="network"/> with <paramref name="weights"/> ([K, D]) and
    /// <paramref name="biases"/> ([K]) as its last linear layer.</summary>
    public static ClassifierNetwork CopyWithHead(ClassifierNetwork network, float[] weights, float[] biases, string method)
    {
        var copy = Copy(network);
        try
        {
            var linear = copy.Head;
            if (linear.bias is null)
                throw new NotSupportedException($"{method} needs a last linear layer with a bias.");
            using var noGrad = no_grad();
            using var w = tensor(weights, [linear.out_features, linear.in_features]);
            using var b = tensor(biases);
            linear.weight.copy_(w);
            linear.bias.copy_(b);
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }
}
