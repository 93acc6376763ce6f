using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Writes a <see cref="SmallCnn"/>'s features as ONNX nodes, with or without batch norm.</summary>
internal static class SmallCnnGraphWriter
{
    public static string WriteFeatures(SmallCnn network, OnnxGraphBuilder g, string x)
    {
        x = g.MaxPool(Block(network, g, x, 1), "pool1", 2, 2, 0);
        x = g.MaxPool(Block(network, g, x, 2), "pool2", 2, 2, 0);
        x = Block(network, g, x, 3);
        return g.GlobalAveragePoolFlat(x, "features");
    }

    private static string Block(SmallCnn network, OnnxGraphBuilder g, string x, int index)
    {
        var y = g.Conv(x, $"conv{index}", 3, 1, 1);
        if (network.BatchNorm) y = g.BatchNorm(y, $"bn{index}");
        return g.Relu(y, $"relu{index}");
    }
}
