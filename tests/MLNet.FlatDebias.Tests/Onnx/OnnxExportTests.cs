using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using Onnx;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Tests.Onnx;

[Collection(TorchCollection.Name)]
public sealed class OnnxExportTests
{
    private const double Tolerance = 1e-4;

    [Theory]
    [MemberData(nameof(OnnxTestNetworks.Kinds), MemberType = typeof(OnnxTestNetworks))]
    public void Onnx_runtime_matches_torch_eval_softmax_and_argmax(string kind)
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create(kind);
        var x = OnnxTestNetworks.Input(network, 5);
        var expected = OnnxTestNetworks.Probabilities(network, x);

        var outputs = OrtRunner.Run(OnnxTestNetworks.Export(network), "input", x);

        Assert.Equal([5L, network.NumberOfClasses], outputs.Shapes["probabilities"]);
        TensorAssert.RelativeClose(expected, outputs.Tensor("probabilities"), Tolerance, kind);
        Assert.Equal(expected.argmax(1).data<long>().ToArray(), outputs.Longs["predicted_index"]);
    }

    [Theory]
    [InlineData("ResNet18")]
    [InlineData("SmallCnnPlain")]
    [InlineData("Mlp")]
    [InlineData("Linear")]
    public void Flattened_input_takes_one_row_per_image(string kind)
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create(kind);
        var x = OnnxTestNetworks.Input(network, 3);
        var expected = OnnxTestNetworks.Probabilities(network, x);
        var model = OnnxTestNetworks.Export(network, new OnnxExportOptions { FlattenedInput = true });

        Assert.Equal(["N", network.InputShape.Size.ToString()], Dims(ModelProto.Parser.ParseFrom(model).Graph.Input[0]));
        var outputs = OrtRunner.Run(model, "input", x.reshape(3, -1));
        TensorAssert.RelativeClose(expected, outputs.Tensor("probabilities"), Tolerance, kind);
    }

    [Fact]
    public void Label_values_give_the_predicted_class_name_as_a_string_output()
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        var x = OnnxTestNetworks.Input(network, 6);
        var labels = new[] { "landbird", "waterbird", "ünïcode bird" };
        var model = OnnxTestNetworks.Export(network, new OnnxExportOptions { LabelValues = labels, IncludeLogits = true });

        var outputs = OrtRunner.Run(model, "input", x);

        var index = outputs.Longs["predicted_index"];
        Assert.Equal(index.Select(i => labels[i]), outputs.Strings["predicted_label"]);
        using (no_grad()) TensorAssert.Close(network.call(x), outputs.Tensor("logits"), Tolerance, "logits");
    }

    [Fact]
    public void Names_and_fixed_batch_size_are_written_into_the_graph()
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create("Mlp");
        var options = new OnnxExportOptions
        {
            InputName = "Features", ProbabilitiesName = "Score", PredictedIndexName = "Index", FixedBatchSize = 1,
            LabelValues = Enumerable.Range(0, 10).Select(i => $"digit {i}").ToArray(), PredictedLabelName = "Label",
        };
        var model = OnnxTestNetworks.Export(network, options);
        var graph = ModelProto.Parser.ParseFrom(model).Graph;

        Assert.Equal(["1", "1", "28", "28"], Dims(graph.Input.Single()));
        Assert.Equal(["Score", "Index", "Label"], graph.Output.Select(o => o.Name));
        Assert.Equal(["1", "10"], Dims(graph.Output[0]));
        Assert.Equal(["1"], Dims(graph.Output[1]));

        var x = OnnxTestNetworks.Input(network, 1);
        var outputs = OrtRunner.Run(model, "Features", x);
        TensorAssert.RelativeClose(OnnxTestNetworks.Probabilities(network, x), outputs.Tensor("Score"), Tolerance);
        Assert.Equal($"digit {outputs.Longs["Index"][0]}", outputs.Strings["Label"][0]);
    }

    [Theory]
    [MemberData(nameof(OnnxTestNetworks.Kinds), MemberType = typeof(OnnxTestNetworks))]
    public void Initializers_are_the_state_dictionary_and_metadata_describes_the_network(string kind)
    {
        using var network = OnnxTestNetworks.Create(kind);
        var model = ModelProto.Parser.ParseFrom(OnnxTestNetworks.Export(network));
        var state = network.state_dict();

        Assert.Equal(OnnxExport.OpsetVersion, model.OpsetImport.Single().Version);
        Assert.Equal(
            state.Where(kv => kv.Value.dtype == ScalarType.Float32).Select(kv => kv.Key).Order(StringComparer.Ordinal),
            model.Graph.Initializer.Select(i => i.Name).Order(StringComparer.Ordinal));
        foreach (var initializer in model.Graph.Initializer)
            Assert.Equal(state[initializer.Name].shape, initializer.Dims.ToArray());
        var meta = model.MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        Assert.Equal(network.NumberOfClasses.ToString(), meta["flatdebias.classes"]);
        var s = network.InputShape;
        Assert.Equal($"{s.Channels},{s.Height},{s.Width}", meta["flatdebias.input_shape"]);
        foreach (var counter in state.Where(kv => kv.Value.dtype == ScalarType.Int64))
            Assert.Equal(counter.Value.item<long>().ToString(), meta["flatdebias.state." + counter.Key]);
        if (kind.StartsWith("SmallCnn", StringComparison.Ordinal)) Assert.Equal(kind == "SmallCnnBatchNorm" ? "true" : "false", meta["flatdebias.batch_norm"]);
        if (kind == "ResNet50") Assert.Equal("3,4,6,3", meta["flatdebias.blocks_per_stage"]);
        if (kind == "Mlp") Assert.Equal("3", meta["flatdebias.depth"]);
        Assert.Equal(kind.StartsWith("Linear", StringComparison.Ordinal) ? "Linear" : kind.StartsWith("ResNet", StringComparison.Ordinal) ? "ResNet"
            : kind.StartsWith("SmallCnn", StringComparison.Ordinal) ? "SmallCnn" : kind, meta["flatdebias.kind"]);
        Assert.Equal(!kind.StartsWith("Linear", StringComparison.Ordinal), meta.ContainsKey("flatdebias.width")); // a Linear network has no width
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Linear_network_on_a_feature_vector_is_one_gemm_and_gives_torchs_probabilities_in_onnx_runtime(bool flattened)
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create("LinearFeatures");
        var x = OnnxTestNetworks.Input(network, 6); // [6, 512, 1, 1]
        var expected = OnnxTestNetworks.Probabilities(network, x);
        var model = OnnxTestNetworks.Export(network, new OnnxExportOptions { FlattenedInput = flattened });

        var graph = ModelProto.Parser.ParseFrom(model).Graph;
        Assert.Equal(flattened ? ["N", "512"] : ["N", "512", "1", "1"], Dims(graph.Input.Single()));
        Assert.Equal(flattened ? ["Gemm", "Softmax", "ArgMax"] : ["Flatten", "Gemm", "Softmax", "ArgMax"], graph.Node.Select(n => n.OpType));
        Assert.Equal(["fc.bias", "fc.weight"], graph.Initializer.Select(i => i.Name).Order(StringComparer.Ordinal));

        var outputs = OrtRunner.Run(model, "input", flattened ? x.reshape(6, 512) : x);
        TensorAssert.Close(expected, outputs.Tensor("probabilities"), Infrastructure.Tolerance.OnnxVsTorchProbability, "probabilities");
        Assert.Equal(expected.argmax(1).data<long>().ToArray(), outputs.Longs["predicted_index"]);
    }

    [Fact]
    public void Strided_downsample_is_a_plain_stride_2_convolution()
    {
        using var network = OnnxTestNetworks.Create("ResNet50");
        var graph = ModelProto.Parser.ParseFrom(OnnxTestNetworks.Export(network)).Graph;
        var downsample = graph.Node.Single(n => n.Input.Contains("layer4.0.downsample.0.weight"));
        Assert.Equal("Conv", downsample.OpType);
        Assert.Equal([2L, 2L], downsample.Attribute.Single(a => a.Name == "strides").Ints);
        Assert.Equal([1L, 1L], downsample.Attribute.Single(a => a.Name == "kernel_shape").Ints);
        Assert.DoesNotContain(graph.Node, n => n.OpType is "Slice" or "Sub");
    }

    [Fact]
    public void Export_is_deterministic()
    {
        using var network = OnnxTestNetworks.Create("ResNet18");
        Assert.Equal(OnnxTestNetworks.Export(network), OnnxTestNetworks.Export(network));
    }

    [Fact]
    public void Unknown_network_type_is_named()
    {
        using var network = new LinearOnly();
        var e = Assert.Throws<NotSupportedException>(() => OnnxTestNetworks.Export(network));
        Assert.Contains(typeof(LinearOnly).FullName!, e.Message);
    }

    [Fact]
    public void Invalid_options_are_named()
    {
        using var network = OnnxTestNetworks.Create("Mlp");
        var e = Assert.Throws<ArgumentException>(() => OnnxTestNetworks.Export(network, new OnnxExportOptions { LabelValues = ["a", "b"] }));
        Assert.Contains("LabelValues has 2 values; the network has 10 classes", e.Message);
        e = Assert.Throws<ArgumentException>(() => OnnxTestNetworks.Export(network, new OnnxExportOptions { ProbabilitiesName = "input" }));
        Assert.Contains("InputName and ProbabilitiesName", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxTestNetworks.Export(network, new OnnxExportOptions { FixedBatchSize = 0 }));
        e = Assert.Throws<ArgumentException>(() => OnnxTestNetworks.Export(network, new OnnxExportOptions { ProbabilitiesName = "hidden.0" }));
        Assert.Contains("'hidden.0' is used twice", e.Message);
    }

    private static string[] Dims(ValueInfoProto value)
        => value.Type.TensorType.Shape.Dim.Select(d => d.HasDimParam ? d.DimParam : d.DimValue.ToString()).ToArray();

    private sealed class LinearOnly : ClassifierNetwork
    {
        private readonly Linear fc = nn.Linear(4, 2);

        public LinearOnly() : base("linear_only", new ImageShape(1, 2, 2), 2) => RegisterComponents();

        public override Linear Head => fc;

        public override Tensor Features(Tensor input) => input.flatten(1);
    }
}
