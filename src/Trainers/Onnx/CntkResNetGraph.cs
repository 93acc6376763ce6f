using System.Diagnostics.CodeAnalysis;
using Onnx;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// Maps a CNTK-exported ResNet graph with BasicBlocks (the ImageNet ResNet-18 of
/// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>) onto torchvision's state-dictionary names by following the
/// graph, not the file order: <c>Conv → BatchNormalization → Relu → MaxPool</c> for the stem, then per block
/// <c>Conv → BatchNormalization → Relu → Conv → BatchNormalization → Add → Relu</c>, where the <c>Add</c>'s other
/// input is either the block's input or a 1x1 <c>Conv → BatchNormalization</c> projection of it.
/// </summary>
/// <remarks>
/// CNTK writes the stride-2 layers with asymmetric padding (one less at the end); for even input sizes at each
/// stride-2 layer, as at 224x224, that gives the same output as torchvision's symmetric padding, because the
/// last padded row and column are never reached.
/// </remarks>
internal sealed class CntkResNetGraph
{
    private const double TorchBatchNormEpsilon = 1e-5;

    private readonly Dictionary<string, TensorProto> initializers;
    private readonly Dictionary<string, List<NodeProto>> consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorProto> state = new(StringComparer.Ordinal);

    private CntkResNetGraph(GraphProto graph)
    {
        initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var i in graph.Initializer) initializers[i.Name] = i;
        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
            {
                if (!consumers.TryGetValue(input, out var list)) consumers[input] = list = [];
                list.Add(node);
            }
        }
    }

    /// <summary>Name of the graph input (e.g. <c>Input247</c>).</summary>
    public string InputName { get; private set; } = "";

    /// <summary>Name of the value after the last block's ReLU and the average pool (e.g. <c>Pooling395_Output_0</c>).</summary>
    public string FeaturesName { get; private set; } = "";

    /// <summary>The stem width (output channels of the first convolution).</summary>
    public int Width { get; private set; }

    /// <summary>BasicBlocks in each of the four stages.</summary>
    public IReadOnlyList<int> BlocksPerStage { get; private set; } = [];

    /// <summary>State-dictionary key → ONNX tensor, for everything but the head and the batch counters.</summary>
    public IReadOnlyDictionary<string, TensorProto> State => state;

    /// <summary>Follows the graph of <paramref name="model"/>.</summary>
    /// <exception cref="InvalidDataException">The graph is not a BasicBlock ResNet of this form; the message says
    /// at which node and why.</exception>
    public static CntkResNetGraph Map(ModelProto model)
    {
        var mapped = new CntkResNetGraph(model.Graph);
        mapped.Walk(model.Graph);
        return mapped;
    }

    private void Walk(GraphProto graph)
    {
        var inputs = graph.Input.Where(i => !initializers.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1) Fail($"the graph has {inputs.Count} non-constant inputs; one image input was expected");
        InputName = inputs[0].Name;

        var conv1 = Conv(Single(InputName, "Conv"), "conv1", kernel: 7, stride: 2, padding: 3);
        Width = (int)conv1.Dims[0];
        var x = Relu(BatchNorm(conv1.Output, "bn1"));
        var pool = Single(x, "MaxPool");
        Check(pool, Ints(pool, "kernel_shape").SequenceEqual([3L, 3L]) && Ints(pool, "strides").SequenceEqual([2L, 2L]) && PadsFit(pool, 1, 2),
            "the stem's max pool is not 3x3, stride 2, padding 1");
        x = pool.Output[0];

        var blocks = new List<int>();
        long channels = Width;
        while (true)
        {
            var next = Consumers(x);
            var convs = next.Where(n => n.OpType == "Conv").ToList();
            if (convs.Count == 0)
            {
                var end = next.FirstOrDefault(n => n.OpType is "AveragePool" or "GlobalAveragePool");
                if (end is null) Fail($"after '{x}' neither a block (Conv) nor an average pool follows");
                FeaturesName = end.Output[0];
                break;
            }
            var main = convs.Count == 1 ? convs[0] : convs.FirstOrDefault(c => KernelOf(c) == 3);
            var projection = convs.Count == 2 ? convs.FirstOrDefault(c => KernelOf(c) == 1) : null;
            if (main is null || convs.Count > 2 || (convs.Count == 2 && projection is null))
                Fail($"'{x}' feeds {convs.Count} convolutions; a block has a 3x3 one and at most one 1x1 projection");
            long stride = Ints(main, "strides").FirstOrDefault(1);
            long planes = Dims(main.Input[1])[0];
            bool newStage = blocks.Count == 0 || stride != 1 || planes != channels;
            if (newStage) blocks.Add(0);
            if (blocks.Count > 4) Fail($"a fifth stage starts at '{main.Name}'");
            string prefix = $"layer{blocks.Count}.{blocks[^1]}";
            blocks[^1]++;

            var y = Relu(BatchNorm(Conv(main, prefix + ".conv1", 3, stride, 1).Output, prefix + ".bn1"));
            y = BatchNorm(Conv(Single(y, "Conv"), prefix + ".conv2", 3, 1, 1).Output, prefix + ".bn2");
            string shortcut = x;
            if (projection is not null)
                shortcut = BatchNorm(Conv(projection, prefix + ".downsample.0", 1, stride, 0).Output, prefix + ".downsample.1");
            var add = Single(y, "Add");
            if (!add.Input.Contains(shortcut) || add.Input.Count != 2)
                Fail($"the residual Add '{add.Name}' does not add '{y}' and the shortcut '{shortcut}'");
            x = Relu(add.Output[0]);
            channels = planes;
        }
        if (blocks.Count != 4) Fail($"the graph has {blocks.Count} stages; a ResNet has 4");
        BlocksPerStage = blocks;
    }

    private (string Output, long[] Dims) Conv(NodeProto node, string module, long kernel, long stride, long padding)
    {
        Check(node, node.OpType == "Conv", "a convolution was expected");
        Check(node, node.Input.Count == 2, "the convolution has a bias; torchvision's ResNet convolutions have none");
        Check(node, KernelOf(node) == kernel && Ints(node, "kernel_shape").Distinct().Count() == 1, $"the kernel is not {kernel}x{kernel}");
        Check(node, Ints(node, "strides").DefaultIfEmpty(1).All(s => s == stride), $"the stride is not {stride}");
        Check(node, Ints(node, "dilations").All(d => d == 1) && Int(node, "group", 1) == 1, "dilated or grouped convolutions do not map");
        Check(node, AutoPad(node) is "" or "NOTSET", "automatic padding does not map");
        Check(node, PadsFit(node, padding, stride), $"the padding does not match torchvision's {padding}");
        var weight = Weight(node, 1, module + ".weight");
        return (node.Output[0], weight.Dims.ToArray());
    }

    private string BatchNorm(string x, string module)
    {
        var node = Single(x, "BatchNormalization");
        Check(node, node.Input.Count == 5, "BatchNormalization needs scale, bias, mean and variance");
        var epsilon = node.Attribute.FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;
        Check(node, Math.Abs(epsilon - TorchBatchNormEpsilon) < 1e-9, $"epsilon is {epsilon}; torchvision's BatchNorm2d uses 1e-5");
        Check(node, Int(node, "spatial", 1) == 1, "per-activation (non-spatial) batch norm does not map");
        Weight(node, 1, module + ".weight");
        Weight(node, 2, module + ".bias");
        Weight(node, 3, module + ".running_mean");
        Weight(node, 4, module + ".running_var");
        return node.Output[0];
    }

    private string Relu(string x) => Single(x, "Relu").Output[0];

    private TensorProto Weight(NodeProto node, int index, string key)
    {
        if (!initializers.TryGetValue(node.Input[index], out var tensor))
            Fail($"input {index} of '{node.Name}' ({node.Input[index]}) is not a constant");
        if (state.ContainsKey(key)) Fail($"'{key}' would be mapped twice");
        state[key] = tensor;
        return tensor;
    }

    private long[] Dims(string initializer)
        => initializers.TryGetValue(initializer, out var t) ? t.Dims.ToArray() : Fail<long[]>($"'{initializer}' is not a constant");

    private List<NodeProto> Consumers(string value) => consumers.TryGetValue(value, out var list) ? list : [];

    private NodeProto Single(string value, string opType)
    {
        var next = Consumers(value);
        if (next.Count != 1 || next[0].OpType != opType)
            Fail($"'{value}' should feed one {opType} node; it feeds [{string.Join(", ", next.Select(n => n.OpType))}]");
        return next[0];
    }

    private static long KernelOf(NodeProto node) => Ints(node, "kernel_shape").FirstOrDefault(-1);

    // torchvision pads symmetrically; at stride 2 CNTK may pad one less at the end (same result for even sizes,
    // see the remarks). At stride 1 the end padding changes the output size, so it must be symmetric.
    private static bool PadsFit(NodeProto node, long padding, long stride)
    {
        var pads = Ints(node, "pads");
        if (pads.Length == 0) return padding == 0;
        if (pads.Length != 4 || pads[0] != padding || pads[1] != padding) return false;
        long lowest = stride == 2 ? Math.Max(0, padding - 1) : padding;
        return pads[2] <= padding && pads[3] <= padding && pads[2] >= lowest && pads[3] >= lowest;
    }

    private static long[] Ints(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.Ints.ToArray() ?? [];

    private static string AutoPad(NodeProto node) => node.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "";

    private static long Int(NodeProto node, string name, long fallback) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? fallback;

    private static void Check(NodeProto node, [DoesNotReturnIf(false)] bool condition, string why)
    {
        if (!condition) Fail($"at node '{node.Name}' ({node.OpType}, output {node.Output.FirstOrDefault()}): {why}");
    }

    [DoesNotReturn]
    private static void Fail(string why) => Fail<bool>(why);

    [DoesNotReturn]
    private static T Fail<T>(string why) => throw new InvalidDataException($"The ONNX graph does not map onto a torchvision-style ResNet: {why}.");
}
