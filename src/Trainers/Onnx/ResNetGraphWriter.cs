using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Writes a <see cref="ResNet"/>'s features as ONNX nodes (BasicBlocks or Bottlenecks, any blocks per stage).</summary>
/// <remarks>The stride-2 1x1 downsample that the network computes as a subsample and a stride-1 convolution
/// (<see cref="StridedPointwiseConv2d"/>) is written as one ONNX <c>Conv</c> with stride 2: the same result.</remarks>
internal static class ResNetGraphWriter
{
    public static string WriteFeatures(ResNet network, OnnxGraphBuilder g, string x)
    {
        x = g.Conv(x, "conv1", 7, 2, 3);
        x = g.Relu(g.BatchNorm(x, "bn1"), "relu");
        x = g.MaxPool(x, "maxpool", 3, 2, 1);
        for (int stage = 0; stage < 4; stage++)
        {
            for (int block = 0; block < network.BlocksPerStage[stage]; block++)
            {
                long stride = stage > 0 && block == 0 ? 2 : 1;
                string prefix = $"layer{stage + 1}.{block}";
                x = network.Bottleneck ? Bottleneck(g, x, prefix, stride) : BasicBlock(g, x, prefix, stride);
            }
        }
        return g.GlobalAveragePoolFlat(x, "features");
    }

    private static string BasicBlock(OnnxGraphBuilder g, string x, string prefix, long stride)
    {
        var y = g.Relu(g.BatchNorm(g.Conv(x, prefix + ".conv1", 3, stride, 1), prefix + ".bn1"), prefix + ".relu1");
        y = g.BatchNorm(g.Conv(y, prefix + ".conv2", 3, 1, 1), prefix + ".bn2");
        return Residual(g, x, y, prefix, stride);
    }

    private static string Bottleneck(OnnxGraphBuilder g, string x, string prefix, long stride)
    {
        var y = g.Relu(g.BatchNorm(g.Conv(x, prefix + ".conv1", 1, 1, 0), prefix + ".bn1"), prefix + ".relu1");
        y = g.Relu(g.BatchNorm(g.Conv(y, prefix + ".conv2", 3, stride, 1), prefix + ".bn2"), prefix + ".relu2");
        y = g.BatchNorm(g.Conv(y, prefix + ".conv3", 1, 1, 0), prefix + ".bn3");
        return Residual(g, x, y, prefix, stride);
    }

    private static string Residual(OnnxGraphBuilder g, string x, string y, string prefix, long stride)
    {
        var shortcut = g.Has(prefix + ".downsample.0.weight")
            ? g.BatchNorm(g.Conv(x, prefix + ".downsample.0", 1, stride, 0), prefix + ".downsample.1")
            : x;
        return g.Relu(g.Node("Add", prefix + ".add", [y, shortcut]), prefix + ".relu");
    }
}
