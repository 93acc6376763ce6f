using System.Globalization;
using MLNet.FlatDebias.Trainers.Networks;
using Onnx;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// The network kind and hyperparameters written to an ONNX model's <c>metadata_props</c>, enough to rebuild the
/// network from the file alone; also the batch-norm step counters (<c>num_batches_tracked</c>), which are part of
/// the state dictionary but not of the inference graph.
/// </summary>
/// <remarks>
/// Keys (all prefixed <c>flatdebias.</c>): <c>format</c> (1), <c>kind</c> (<c>ResNet</c>, <c>SmallCnn</c>,
/// <c>Mlp</c> or <c>Linear</c>), <c>name</c> (the module name), <c>classes</c>, <c>input_shape</c> (<c>C,H,W</c>;
/// <c>n,1,1</c> for a flat feature vector of n values); <c>width</c> for every kind but <c>Linear</c>, which has
/// none; for a ResNet <c>bottleneck</c> (<c>true</c>/<c>false</c>) and <c>blocks_per_stage</c> (e.g. <c>2,2,2,2</c>);
/// for a SmallCnn <c>batch_norm</c>; for an Mlp <c>depth</c>; for a network with DPE's prototype head, <c>head</c>
/// (<c>prototypes</c>) and <c>prototype_members</c> (M); and one <c>state.{key}</c> per int64 state entry.
/// The counters are kept out of the initializers because ONNX Runtime warns about (and drops) initializers that
/// no node uses.
/// </remarks>
internal static class NetworkMetadata
{
    public const string Prefix = "flatdebias.";
    public const string StatePrefix = Prefix + "state.";
    private const string FormatVersion = "1";

    /// <summary>The state-dictionary prefix of the last linear layer, which a DPE model's file leaves out.</summary>
    public const string LinearHeadPrefix = "fc.";

    /// <summary>The <c>flatdebias.head</c> value of a network with a <see cref="ClassifierNetwork.PrototypeHead"/>.</summary>
    public const string PrototypeHeadKind = "prototypes";

    /// <summary>The metadata entries describing <paramref name="network"/>.</summary>
    /// <exception cref="NotSupportedException">The network type is not one the exporter knows.</exception>
    public static IReadOnlyList<(string Key, string Value)> Describe(ClassifierNetwork network)
    {
        var shape = network.InputShape;
        var entries = new List<(string, string)>
        {
            (Prefix + "format", FormatVersion),
            (Prefix + "kind", KindOf(network)),
            (Prefix + "name", network.GetName()),
            (Prefix + "classes", Format(network.NumberOfClasses)),
            (Prefix + "input_shape", $"{Format(shape.Channels)},{Format(shape.Height)},{Format(shape.Width)}"),
        };
        if (network.PrototypeHead is { } prototypes)
        {
            entries.Add((Prefix + "head", PrototypeHeadKind));
            entries.Add((Prefix + "prototype_members", Format(prototypes.Members)));
        }
        switch (network)
        {
            case ResNet r:
                entries.Add((Prefix + "width", Format(r.Width)));
                entries.Add((Prefix + "bottleneck", r.Bottleneck ? "true" : "false"));
                entries.Add((Prefix + "blocks_per_stage", string.Join(",", r.BlocksPerStage.Select(Format))));
                break;
            case SmallCnn c:
                entries.Add((Prefix + "width", Format(c.Width)));
                entries.Add((Prefix + "batch_norm", c.BatchNorm ? "true" : "false"));
                break;
            case Mlp m:
                entries.Add((Prefix + "width", Format(m.Width)));
                entries.Add((Prefix + "depth", Format(m.Depth)));
                break;
        }
        return entries;
    }

    /// <summary>The kind name written for a network.</summary>
    /// <exception cref="NotSupportedException">The network type is not one the exporter knows.</exception>
    public static string KindOf(ClassifierNetwork network) => network switch
    {
        ResNet => "ResNet",
        SmallCnn => "SmallCnn",
        Mlp => "Mlp",
        LinearClassifier => "Linear",
        _ => throw new NotSupportedException(
            $"ONNX export does not know the network type '{network.GetType().FullName}'. It writes ResNet, SmallCnn, Mlp and LinearClassifier networks."),
    };

    /// <summary>Builds an untrained network of the kind and hyperparameters recorded in <paramref name="model"/>.</summary>
    /// <exception cref="InvalidDataException">The metadata is missing or does not describe a network; the message
    /// names the entry.</exception>
    public static ClassifierNetwork Rebuild(ModelProto model)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in model.MetadataProps) meta[entry.Key] = entry.Value;
        if (!meta.TryGetValue(Prefix + "kind", out var kind))
            throw new InvalidDataException(
                "The ONNX model has no 'flatdebias.kind' metadata: it was not written by OnnxExport, so the network cannot be rebuilt from it. " +
                "Build the network yourself and use OnnxImport.LoadWeights.");
        if (meta.TryGetValue(Prefix + "format", out var format) && format != FormatVersion)
            throw new InvalidDataException($"The ONNX model's 'flatdebias.format' is '{format}'; this library reads format {FormatVersion}.");

        int classes = Int(meta, "classes");
        var dims = Ints(meta, "input_shape");
        if (dims.Length != 3 || dims.Any(d => d < 1) || (long)dims[0] * dims[1] * dims[2] > int.MaxValue)
            throw new InvalidDataException($"Metadata 'flatdebias.input_shape' must be C,H,W (positive, of manageable size); got '{meta[Prefix + "input_shape"]}'.");
        var shape = new ImageShape(dims[0], dims[1], dims[2]);
        int width = kind == "Linear" ? 0 : Int(meta, "width"); // a Linear network has no width
        bool prototypes = meta.TryGetValue(Prefix + "head", out var head) && head == PrototypeHeadKind;
        if (head is not null && !prototypes)
            throw new InvalidDataException($"Metadata 'flatdebias.head' must be '{PrototypeHeadKind}' when present; got '{head}'.");
        CheckAgainstTensors(model.Graph, kind, meta, classes, shape, width, prototypes);
        var network = Build(kind, meta, classes, shape, width);
        if (!prototypes) return network;
        try
        {
            var directions = model.Graph.Initializer.First(i => i.Name == PrototypeHeadKind + ".directions").Dims;
            if (directions[1] != network.FeatureDimension)
                throw new InvalidDataException($"The ONNX model's 'prototypes.directions' has {directions[1]} features per prototype; its {kind} network has {network.FeatureDimension}.");
            network.AttachPrototypeHead(new PrototypeEnsembleHead(Int(meta, "prototype_members"), classes, directions[1]));
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static ClassifierNetwork Build(string kind, Dictionary<string, string> meta, int classes, ImageShape shape, int width)
    {
        try
        {
            return kind switch
            {
                "ResNet" => new ResNet(
                    meta.TryGetValue(Prefix + "name", out var name) && name.Length > 0 ? name : "resnet",
                    Bool(meta, "bottleneck"), Ints(meta, "blocks_per_stage"), classes, shape, width),
                "SmallCnn" => new SmallCnn(classes, shape, width, Bool(meta, "batch_norm")),
                "Mlp" => new Mlp(classes, shape, width, Int(meta, "depth")),
                "Linear" => new LinearClassifier(classes, shape),
                _ => throw new InvalidDataException($"The ONNX model's network kind '{kind}' is not one this library builds (ResNet, SmallCnn, Mlp, Linear)."),
            };
        }
        catch (Exception e) when (e is not InvalidDataException and not OutOfMemoryException)
        {
            throw new InvalidDataException($"The ONNX model's metadata does not describe a valid {kind}: {e.Message}", e);
        }
    }

    // The metadata must agree with the tensors in the file before a network is built from it, so that damaged
    // metadata (say a width of 10^9) fails with a message instead of allocating a huge network.
    private static void CheckAgainstTensors(GraphProto graph, string kind, Dictionary<string, string> meta, int classes, ImageShape shape, int width,
        bool prototypes)
    {
        var dims = graph.Initializer.GroupBy(i => i.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Dims.ToArray(), StringComparer.Ordinal);
        void Expect(string key, params long[] expected)
        {
            if (!dims.TryGetValue(key, out var actual))
                throw new InvalidDataException($"The ONNX model has no initializer '{key}', which its {kind} metadata implies.");
            if (!actual.SequenceEqual(expected))
                throw new InvalidDataException($"The ONNX model's metadata implies '{key}' of shape [{string.Join(", ", expected)}]; the file has [{string.Join(", ", actual)}].");
        }
        int Count(string prefix, string suffix) => dims.Keys.Count(k => k.StartsWith(prefix, StringComparison.Ordinal) && k.EndsWith(suffix, StringComparison.Ordinal));

        if (prototypes)
        {
            // A DPE model: no fc.* in the file; the prototypes must agree with the classes and the member count.
            int members = Int(meta, "prototype_members");
            if (members < 1)
                throw new InvalidDataException($"Metadata 'flatdebias.prototype_members' must be at least 1; got {members}.");
            if (!dims.TryGetValue(PrototypeHeadKind + ".directions", out var directions) || directions.Length != 2 || directions[0] != (long)members * classes || directions[1] < 2)
                throw new InvalidDataException($"The ONNX model's metadata says {members} prototype members of {classes} classes; its 'prototypes.directions' does not have {(long)members * classes} rows of at least 2 features.");
            Expect(PrototypeHeadKind + ".scales", members);
            if (kind == "Linear" && directions[1] != shape.Size)
                throw new InvalidDataException($"The ONNX model's metadata implies 'prototypes.directions' of {shape.Size} features; the file has {directions[1]}.");
        }
        else if (!dims.TryGetValue("fc.weight", out var head) || head.Length != 2 || head[0] != classes)
            throw new InvalidDataException($"The ONNX model's metadata says {classes} classes; its 'fc.weight' does not have {classes} rows.");
        switch (kind)
        {
            case "ResNet":
                Expect("conv1.weight", width, shape.Channels, 7, 7);
                int blocks = Ints(meta, "blocks_per_stage").Sum();
                if (Count("layer", ".conv1.weight") != blocks)
                    throw new InvalidDataException($"The ONNX model's metadata says {blocks} residual blocks; the file has {Count("layer", ".conv1.weight")}.");
                break;
            case "SmallCnn":
                Expect("conv1.weight", width, shape.Channels, 3, 3);
                break;
            case "Mlp":
                Expect("hidden.0.weight", width, shape.Size);
                int depth = Int(meta, "depth");
                if (Count("hidden.", ".weight") != depth)
                    throw new InvalidDataException($"The ONNX model's metadata says {depth} hidden layers; the file has {Count("hidden.", ".weight")}.");
                break;
            case "Linear" when !prototypes:
                Expect("fc.weight", classes, shape.Size);
                break;
        }
    }

    private static string Format(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Get(Dictionary<string, string> meta, string key)
        => meta.TryGetValue(Prefix + key, out var value)
            ? value
            : throw new InvalidDataException($"The ONNX model has no 'flatdebias.{key}' metadata.");

    private static int Int(Dictionary<string, string> meta, string key)
        => int.TryParse(Get(meta, key), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidDataException($"Metadata 'flatdebias.{key}' must be an integer; got '{meta[Prefix + key]}'.");

    private static int[] Ints(Dictionary<string, string> meta, string key)
    {
        var text = Get(meta, key);
        var parts = text.Split(',');
        var values = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out values[i]))
                throw new InvalidDataException($"Metadata 'flatdebias.{key}' must be comma-separated integers; got '{text}'.");
        }
        return values;
    }

    private static bool Bool(Dictionary<string, string> meta, string key) => Get(meta, key) switch
    {
        "true" => true,
        "false" => false,
        var other => throw new InvalidDataException($"Metadata 'flatdebias.{key}' must be true or false; got '{other}'."),
    };
}
