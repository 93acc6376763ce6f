using Google.Protobuf;
using MLNet.FlatDebias.Trainers.Networks;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// Writes the feature part of a <see cref="ClassifierNetwork"/> (<see cref="ClassifierNetwork.Features"/>, no head) as
/// an ONNX model, for extracting penultimate features with ONNX Runtime.
/// </summary>
/// <remarks>
/// Two forms: the <b>row form</b> that ML.NET's <c>ApplyOnnxModel</c> feeds one row at a time (input
/// <c>[1, C*H*W]</c>, the flat vector column as ML.NET holds it, reshaped to an image inside the graph; output a rank-1
/// tensor of <c>FeatureDimension</c> values, so the output column is a known-size vector), and the <b>batch form</b>
/// (input <c>[N, C, H, W]</c>, output <c>[N, FeatureDimension]</c>) for ONNX Runtime called directly. The nodes and
/// initializers are the classifier export's (<see cref="OnnxExport"/>), without the head.
/// </remarks>
internal static class OnnxFeatureExport
{
    /// <summary>The row form: flat input <c>[1, C*H*W]</c> named <paramref name="inputName"/>, output
    /// <c>[FeatureDimension]</c> named <paramref name="outputName"/>.</summary>
    public static byte[] RowForm(ClassifierNetwork network, string inputName, string outputName)
    {
        ArgumentNullException.ThrowIfNull(network);
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder(network);
        var shape = network.InputShape;
        g.Input(inputName, DataType.Float, null, 1, shape.Size);
        var image = g.Node("Reshape", "features_input_image", [inputName,
            g.Constant("features_input_image_shape", OnnxTensors.FromInt64("", [1, shape.Channels, shape.Height, shape.Width], 4))]);
        var features = OnnxExport.WriteFeatures(network, g, image, inputIsFlat: false);
        var axes = g.Constant("features_squeeze_axes", OnnxTensors.FromInt64("", [0], 1));
        g.Node("Squeeze", outputName, [features, axes]);
        g.Output(outputName, DataType.Float, null, network.FeatureDimension);
        return Model(network, g).ToByteArray();
    }

    /// <summary>The batch form: input <c>[N, C, H, W]</c> named <paramref name="inputName"/>, output
    /// <c>[N, FeatureDimension]</c> named <paramref name="outputName"/>.</summary>
    public static byte[] BatchForm(ClassifierNetwork network, string inputName, string outputName)
    {
        ArgumentNullException.ThrowIfNull(network);
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder(network);
        var shape = network.InputShape;
        g.Input(inputName, DataType.Float, "N", null, shape.Channels, shape.Height, shape.Width);
        var features = OnnxExport.WriteFeatures(network, g, inputName, inputIsFlat: false);
        if (features != outputName) g.Node("Identity", outputName, [features]);
        g.Output(outputName, DataType.Float, "N", null, network.FeatureDimension);
        return Model(network, g).ToByteArray();
    }

    private static ModelProto Model(ClassifierNetwork network, OnnxGraphBuilder g)
        => OnnxExport.NewModel(g.Graph, $"Penultimate features of a {network.GetType().Name}, exported by {OnnxExport.ProducerName}.");
}
