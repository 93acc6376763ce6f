using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Writes a <see cref="LinearClassifier"/>'s features as ONNX nodes: the flattened input (a <c>Flatten</c>
/// node when the graph's input is not already flat, nothing otherwise); its one layer, the head, is written by
/// <see cref="OnnxExport"/> as every network's.</summary>
internal static class LinearGraphWriter
{
    public static string WriteFeatures(OnnxGraphBuilder g, string x, bool inputIsFlat)
        => inputIsFlat ? x : g.Node("Flatten", "flatten", [x], OnnxGraphBuilder.Int("axis", 1));
}
