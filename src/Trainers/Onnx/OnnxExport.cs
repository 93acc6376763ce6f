using Google.Protobuf;
using MLNet.FlatDebias.Trainers.Networks;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// Writes a trained <see cref="ClassifierNetwork"/> as an ONNX model in inference form, for ONNX Runtime and for
/// ML.NET's <c>ApplyOnnxModel</c>.
/// </summary>
/// <remarks>
/// <para>The graph (opset <see cref="OpsetVersion"/>, IR version <see cref="IrVersion"/>) takes the input
/// <c>input</c>, float <c>[N, C, H, W]</c> (or <c>[N, C*H*W]</c> with <see cref="OnnxExportOptions.FlattenedInput"/>),
/// and outputs <c>probabilities</c>, float <c>[N, K]</c> (softmax of the logits), and <c>predicted_index</c>, int64
/// <c>[N]</c> (ArgMax of the probabilities); optionally <c>logits</c> and <c>predicted_label</c>.</para>
/// <para>Batch norm is written as <c>BatchNormalization</c> nodes with the running statistics (not folded), and
/// every float tensor of the network's state dictionary becomes an initializer named by its state-dictionary key
/// (<c>layer1.0.conv1.weight</c>, <c>layer1.0.bn1.running_mean</c>, ...), so <see cref="OnnxImport"/> maps the
/// file back by name. The int64 batch counters (<c>num_batches_tracked</c>) and the network's kind and
/// hyperparameters go into the model's <c>metadata_props</c> (keys <c>flatdebias.*</c>), so the file alone is
/// enough to rebuild the network (<see cref="OnnxImport.LoadNetwork"/>).</para>
/// <para>A stride-2 1x1 downsample (<see cref="StridedPointwiseConv2d"/>) is written as an ordinary <c>Conv</c>
/// with stride 2: the same result, and ONNX Runtime does not have the oneDNN problem it avoids.</para>
/// <para>A network with a <see cref="ClassifierNetwork.PrototypeHead"/> (a DPE model) ends in the prototype ensemble's
/// nodes instead (<see cref="PrototypeGraphWriter"/>): <c>probabilities</c> is the ensemble's mean probability,
/// <c>logits</c> its log, and the replaced linear layer <c>fc</c> is not written.</para>
/// <para>The export is deterministic: the same weights and options give the same bytes.</para>
/// </remarks>
public static class OnnxExport
{
    /// <summary>The ONNX operator set the graphs use (17; ONNX Runtime 1.31 runs up to 23).</summary>
    public const long OpsetVersion = 17;

    /// <summary>The ONNX IR version written (8, the one that goes with opset 17).</summary>
    public const long IrVersion = 8;

    /// <summary>The <c>producer_name</c> written into the model.</summary>
    public const string ProducerName = "MLNet.FlatDebias";

    /// <summary>Writes <paramref name="network"/> as an ONNX model to <paramref name="destination"/>.</summary>
    /// <param name="network">A <see cref="ResNet"/>, <see cref="SmallCnn"/>, <see cref="Mlp"/> or
    /// <see cref="LinearClassifier"/>, on any device, in either mode (the graph is always the inference form; the
    /// network is not changed).</param>
    /// <param name="destination">A writable stream; it is written from its current position and left open.</param>
    /// <param name="options">Names and shapes (null for the defaults).</param>
    /// <exception cref="NotSupportedException">The network type is not one the exporter knows; the message names it.</exception>
    /// <exception cref="ArgumentException">The stream is not writable, or the options are invalid for this network
    /// (see <see cref="OnnxExportOptions"/>).</exception>
    public static void Export(ClassifierNetwork network, Stream destination, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite) throw new ArgumentException("The destination stream is not writable.", nameof(destination));
        ToModel(network, options).WriteTo(destination);
        destination.Flush();
    }

    /// <summary>Builds the ONNX model of <paramref name="network"/> without writing it.</summary>
    /// <param name="network">See <see cref="Export"/>.</param>
    /// <param name="options">See <see cref="Export"/>.</param>
    /// <returns>The model (OnnxSharp's protobuf class).</returns>
    /// <exception cref="NotSupportedException">The network type is not one the exporter knows.</exception>
    /// <exception cref="ArgumentException">The options are invalid for this network.</exception>
    internal static ModelProto ToModel(ClassifierNetwork network, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new OnnxExportOptions();
        var metadata = NetworkMetadata.Describe(network); // throws NotSupportedException for unknown types first
        options.Validate(network.NumberOfClasses);
        TorchRuntime.EnsureLoaded();

        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder(network);
        long? batch = options.FixedBatchSize;
        var shape = network.InputShape;
        const string symbol = "N";

        string x;
        if (options.FlattenedInput)
        {
            g.Input(options.InputName, DataType.Float, symbol, batch, shape.Size);
            x = options.InputName;
            if (network is not (Mlp or LinearClassifier)) // these two flatten their input anyway
            {
                var target = OnnxTensors.FromInt64("", [batch ?? -1, shape.Channels, shape.Height, shape.Width], 4);
                x = g.Node("Reshape", "input_image", [x, g.Constant("input_image_shape", target)]);
            }
        }
        else
        {
            g.Input(options.InputName, DataType.Float, symbol, batch, shape.Channels, shape.Height, shape.Width);
            x = options.InputName;
        }

        var features = WriteFeatures(network, g, x, options.FlattenedInput);

        long classes = network.NumberOfClasses;
        string logits, probabilities;
        if (network.PrototypeHead is { } prototypes)
        {
            // DPE's ensemble: its mean probabilities directly; the logits output is their log, as the network's forward.
            probabilities = PrototypeGraphWriter.WriteProbabilities(prototypes, g, features, options.ProbabilitiesName);
            logits = options.IncludeLogits ? g.Node("Log", options.LogitsName, [probabilities]) : "";
        }
        else
        {
            logits = g.Linear(features, "fc", options.IncludeLogits ? options.LogitsName : null);
            probabilities = g.Node("Softmax", options.ProbabilitiesName, [logits], OnnxGraphBuilder.Int("axis", 1));
        }
        var predicted = g.Node("ArgMax", options.PredictedIndexName, [probabilities],
            OnnxGraphBuilder.Int("axis", 1), OnnxGraphBuilder.Int("keepdims", 0));
        g.Output(probabilities, DataType.Float, symbol, batch, classes);
        g.Output(predicted, DataType.Int64, symbol, batch);
        if (options.LabelValues is { } labels)
        {
            var table = g.Constant("label_values", OnnxTensors.FromStrings("", labels));
            g.Node("Gather", options.PredictedLabelName, [table, predicted], OnnxGraphBuilder.Int("axis", 0));
            g.Output(options.PredictedLabelName, DataType.String, symbol, batch);
        }
        if (options.IncludeLogits) g.Output(logits, DataType.Float, symbol, batch, classes);

        var model = NewModel(g.Graph, $"{NetworkMetadata.KindOf(network)} classifier exported by {ProducerName}.");
        foreach (var (key, value) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

        // Every state entry must be in the file: float tensors as initializers, the int64 counters as metadata. A network
        // with a prototype head leaves out the linear layer it replaced (fc.*): no node would read it, and ONNX Runtime
        // warns about unused initializers; OnnxImport fills it with zeros.
        var written = new HashSet<string>(g.WrittenWeights, StringComparer.Ordinal);
        bool skipLinearHead = network.PrototypeHead is not null;
        foreach (var key in g.StateKeys.Where(k => !written.Contains(k) && !(skipLinearHead && k.StartsWith(NetworkMetadata.LinearHeadPrefix, StringComparison.Ordinal))))
        {
            var tensor = g.State(key);
            if (tensor.dtype != ScalarType.Int64 || tensor.numel() != 1)
                throw new InvalidOperationException($"State entry '{key}' of the {network.GetType().Name} was not written to the graph.");
            model.MetadataProps.Add(new StringStringEntryProto
            {
                Key = NetworkMetadata.StatePrefix + key,
                Value = tensor.item<long>().ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
        }
        return model;
    }

    /// <summary>A model around <paramref name="graph"/> with this exporter's IR version, producer and opset.</summary>
    internal static ModelProto NewModel(GraphProto graph, string docString)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "",
            DocString = docString,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        return model;
    }

    /// <summary>Writes the nodes of <paramref name="network"/>'s <see cref="ClassifierNetwork.Features"/> after
    /// <paramref name="x"/> (an image batch, or flat rows when <paramref name="inputIsFlat"/> and the network flattens
    /// its input itself); returns the name of the <c>[N, FeatureDimension]</c> output.</summary>
    /// <exception cref="NotSupportedException">The network type is not one the exporter knows.</exception>
    internal static string WriteFeatures(ClassifierNetwork network, OnnxGraphBuilder g, string x, bool inputIsFlat) => network switch
    {
        ResNet r => ResNetGraphWriter.WriteFeatures(r, g, x),
        SmallCnn c => SmallCnnGraphWriter.WriteFeatures(c, g, x),
        Mlp m => MlpGraphWriter.WriteFeatures(m, g, x, inputIsFlat),
        LinearClassifier => LinearGraphWriter.WriteFeatures(g, x, inputIsFlat),
        _ => throw new NotSupportedException($"ONNX export does not know the network type '{network.GetType().FullName}'."),
    };
}
