using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Writes an <see cref="Mlp"/>'s features as ONNX nodes: flatten, then linear and ReLU per hidden layer.</summary>
internal static class MlpGraphWriter
{
    public static string WriteFeatures(Mlp network, OnnxGraphBuilder g, string x, bool inputIsFlat)
    {
        if (!inputIsFlat) x = g.Node("Flatten", "flatten", [x], OnnxGraphBuilder.Int("axis", 1));
        for (int i = 0; i < network.Depth; i++)
            x = g.Relu(g.Linear(x, $"hidden.{i}"), $"hidden.{i}.relu");
        return x;
    }
}
