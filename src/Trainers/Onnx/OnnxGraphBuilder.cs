using MLNet.FlatDebias.Trainers.Networks;
using Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// Writes an ONNX graph node by node. Weights come from a network's state dictionary and become initializers
/// named by their state-dictionary keys; other constants become <c>Constant</c> nodes, so that the initializers
/// are exactly the state dictionary's float tensors.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    private readonly IReadOnlyDictionary<string, Tensor> state;
    private readonly IReadOnlyDictionary<string, nn.Module> modules;
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    /// <param name="network">The network whose state dictionary and modules are written.</param>
    public OnnxGraphBuilder(ClassifierNetwork network)
    {
        state = network.state_dict();
        modules = network.named_modules().ToDictionary(m => m.name, m => m.module, StringComparer.Ordinal);
        Graph = new GraphProto { Name = network.GetName() };
    }

    /// <summary>The state-dictionary keys of the network.</summary>
    public IEnumerable<string> StateKeys => state.Keys;

    /// <summary>The state-dictionary tensor <paramref name="key"/>.</summary>
    public Tensor State(string key) => state[key];

    /// <summary>The graph being written.</summary>
    public GraphProto Graph { get; }

    /// <summary>Whether a state-dictionary entry exists (e.g. an optional bias).</summary>
    public bool Has(string key) => state.ContainsKey(key);

    /// <summary>Adds the state-dictionary tensor <paramref name="key"/> as an initializer (once) and returns its name.</summary>
    /// <exception cref="InvalidOperationException">The network has no such tensor (an exporter bug).</exception>
    public string Weight(string key)
    {
        if (names.Contains(key)) return key;
        if (!state.TryGetValue(key, out var tensor))
            throw new InvalidOperationException($"The network's state dictionary has no '{key}'.");
        Claim(key);
        Graph.Initializer.Add(OnnxTensors.FromFloat(key, tensor));
        return key;
    }

    /// <summary>The state-dictionary keys written as initializers.</summary>
    public IEnumerable<string> WrittenWeights => Graph.Initializer.Select(i => i.Name);

    /// <summary>Adds a node with one output named <paramref name="output"/> and returns that name.</summary>
    public string Node(string opType, string output, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        Claim(output);
        var node = new NodeProto { OpType = opType, Name = output + "/" + opType };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return output;
    }

    /// <summary>Adds a <c>Constant</c> node holding <paramref name="value"/> (whose name is replaced) and returns its output.</summary>
    public string Constant(string output, TensorProto value)
    {
        value.Name = output;
        return Node("Constant", output, [], Tensor("value", value));
    }

    /// <summary>Declares a graph input of element type <paramref name="elementType"/>; a null dimension is symbolic.</summary>
    public void Input(string name, TensorProto.Types.DataType elementType, string? symbol, params long?[] dims)
    {
        Claim(name);
        Graph.Input.Add(ValueInfo(name, elementType, symbol, dims));
    }

    /// <summary>Declares an existing value as a graph output; a null dimension is symbolic.</summary>
    public void Output(string name, TensorProto.Types.DataType elementType, string? symbol, params long?[] dims)
        => Graph.Output.Add(ValueInfo(name, elementType, symbol, dims));

    /// <summary>Reserves a value name.</summary>
    /// <exception cref="ArgumentException">The name is already used in the graph (e.g. an output name chosen in
    /// the options equals an internal name).</exception>
    public void Claim(string name)
    {
        if (!names.Add(name))
            throw new ArgumentException($"The graph name '{name}' is used twice; choose other input and output names in OnnxExportOptions.");
    }

    // --- layers -------------------------------------------------------------------------------------------

    /// <summary>A 2-D convolution with symmetric padding; bias from <c>{module}.bias</c> when the state has one.</summary>
    public string Conv(string x, string module, long kernel, long stride, long padding)
    {
        var inputs = new List<string> { x, Weight(module + ".weight") };
        if (Has(module + ".bias")) inputs.Add(Weight(module + ".bias"));
        return Node("Conv", module, inputs,
            Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride),
            Ints("pads", padding, padding, padding, padding), Ints("dilations", 1, 1), Int("group", 1));
    }

    /// <summary>Inference-form batch normalisation with the module's running statistics and epsilon.</summary>
    public string BatchNorm(string x, string module)
    {
        if (!modules.TryGetValue(module, out var m) || m is not BatchNorm2d bn)
            throw new InvalidOperationException($"The network has no BatchNorm2d named '{module}'.");
        return Node("BatchNormalization", module,
            [x, Weight(module + ".weight"), Weight(module + ".bias"), Weight(module + ".running_mean"), Weight(module + ".running_var")],
            Float("epsilon", (float)bn.eps));
    }

    /// <summary><c>y = x W^T + b</c> for a linear module; the output is named <paramref name="output"/> or the module.</summary>
    public string Linear(string x, string module, string? output = null) => Node("Gemm", output ?? module,
        [x, Weight(module + ".weight"), Weight(module + ".bias")], Int("transB", 1));

    /// <summary>ReLU, output named <paramref name="output"/>.</summary>
    public string Relu(string x, string output) => Node("Relu", output, [x]);

    /// <summary>Max pooling with a square kernel and symmetric padding (floor mode, as PyTorch's default).</summary>
    public string MaxPool(string x, string output, long kernel, long stride, long padding) => Node("MaxPool", output, [x],
        Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("pads", padding, padding, padding, padding));

    /// <summary>Global average pooling then flattening to <c>[N, C]</c>.</summary>
    public string GlobalAveragePoolFlat(string x, string output)
        => Node("Flatten", output, [Node("GlobalAveragePool", output + ".pool", [x])], Int("axis", 1));

    // --- attributes ---------------------------------------------------------------------------------------

    public static AttributeProto Int(string name, long value)
        => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value)
        => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    public static AttributeProto Tensor(string name, TensorProto value)
        => new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType elementType, string? symbol, long?[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d is { } value
                ? new TensorShapeProto.Types.Dimension { DimValue = value }
                : new TensorShapeProto.Types.Dimension { DimParam = symbol ?? "N" });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = shape } },
        };
    }
}
