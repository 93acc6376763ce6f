using Google.Protobuf;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using Onnx;
using static TorchSharp.torch;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Tests.Onnx;

[Collection(TorchCollection.Name)]
public sealed class OnnxImportTests
{
    [Theory]
    [MemberData(nameof(OnnxTestNetworks.Kinds), MemberType = typeof(OnnxTestNetworks))]
    public void Export_import_export_gives_identical_bytes_and_outputs(string kind)
    {
        using var scope = NewDisposeScope();
        using var original = OnnxTestNetworks.Create(kind);
        var first = OnnxTestNetworks.Export(original);

        using var loaded = OnnxImport.LoadNetwork(new MemoryStream(first));
        var second = OnnxTestNetworks.Export(loaded);

        Assert.Equal(original.GetType(), loaded.GetType());
        Assert.Equal(original.NumberOfClasses, loaded.NumberOfClasses);
        Assert.Equal(original.InputShape, loaded.InputShape);
        Assert.False(loaded.training);
        Assert.Equal(first, second);
        foreach (var (name, tensor) in original.state_dict())
            Assert.True(tensor.Identical(loaded.state_dict()[name]), $"{name} differs after the round trip");
        var x = OnnxTestNetworks.Input(original, 4);
        using (no_grad()) Assert.True(original.call(x).Identical(loaded.call(x)), "outputs differ");
    }

    [Fact]
    public void Rebuilt_networks_keep_their_hyperparameters()
    {
        using var resnet = (ResNet)Roundtrip(OnnxTestNetworks.Create("ResNet50"));
        Assert.True(resnet.Bottleneck);
        Assert.Equal([3, 4, 6, 3], resnet.BlocksPerStage);
        Assert.Equal(4, resnet.Width);
        Assert.Equal("resnet50", resnet.GetName());
        using var cnn = (SmallCnn)Roundtrip(OnnxTestNetworks.Create("SmallCnnPlain"));
        Assert.False(cnn.BatchNorm);
        Assert.Equal(6, cnn.Width);
        using var custom = (ResNet)Roundtrip(new ResNet("resnet_custom", false, [1, 1, 2, 3], 2, new ImageShape(3, 32, 32), 4));
        Assert.Equal([1, 1, 2, 3], custom.BlocksPerStage);
        Assert.Equal("resnet_custom", custom.GetName());
        using var mlp = (Mlp)Roundtrip(OnnxTestNetworks.Create("Mlp"));
        Assert.Equal(3, mlp.Depth);
        Assert.Equal(8, mlp.Width);
        using var linear = (LinearClassifier)Roundtrip(OnnxTestNetworks.Create("LinearFeatures"));
        Assert.Equal(new ImageShape(512, 1, 1), linear.InputShape);
        Assert.Equal([3L, 512L], linear.Head.weight.shape);
        Assert.Equal("linear", linear.GetName());
    }

    [Fact]
    public void Load_weights_fills_an_existing_network_by_name()
    {
        using var scope = NewDisposeScope();
        using var source = OnnxTestNetworks.Create("ResNet18", seed: 1);
        using var target = OnnxTestNetworks.Create("ResNet18", seed: 2);
        OnnxImport.LoadWeights(target, new MemoryStream(OnnxTestNetworks.Export(source)));
        foreach (var (name, tensor) in source.state_dict())
            Assert.True(tensor.Identical(target.state_dict()[name]), name);
    }

    [Fact]
    public void Load_weights_is_strict_and_names_the_tensors()
    {
        using var network = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        var bytes = OnnxTestNetworks.Export(network);

        using var wider = new SmallCnn(3, new ImageShape(3, 32, 32), 16);
        var e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadWeights(wider, new MemoryStream(bytes)));
        Assert.Contains("shape mismatch: conv1.weight: file [8, 3, 3, 3], network [16, 3, 3, 3]", e.Message);

        var model = ModelProto.Parser.ParseFrom(bytes);
        model.Graph.Initializer.Remove(model.Graph.Initializer.Single(i => i.Name == "bn2.running_var"));
        e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadWeights(network, new MemoryStream(model.ToByteArray())));
        Assert.Contains("missing in the file: bn2.running_var", e.Message);

        model = ModelProto.Parser.ParseFrom(bytes);
        model.Graph.Initializer.Add(new TensorProto { Name = "extra.weight", DataType = 1, Dims = { 1 }, FloatData = { 1f } });
        e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadWeights(network, new MemoryStream(model.ToByteArray())));
        Assert.Contains("not in the network: extra.weight", e.Message);

        model = ModelProto.Parser.ParseFrom(bytes);
        model.MetadataProps.Remove(model.MetadataProps.Single(p => p.Key == "flatdebias.state.bn1.num_batches_tracked"));
        e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadWeights(network, new MemoryStream(model.ToByteArray())));
        Assert.Contains("missing in the file: bn1.num_batches_tracked", e.Message);

        model = ModelProto.Parser.ParseFrom(bytes);
        var conv = model.Graph.Initializer.Single(i => i.Name == "conv2.weight");
        conv.RawData = conv.RawData.Span[..8].ToArray() is var head ? ByteString.CopyFrom(head) : conv.RawData;
        e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadWeights(network, new MemoryStream(model.ToByteArray())));
        Assert.Contains("'conv2.weight' has 8 bytes of data", e.Message);
    }

    [Fact]
    public void Truncated_or_corrupted_files_give_a_clear_error()
    {
        using var network = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        var bytes = OnnxTestNetworks.Export(network);

        foreach (var length in new[] { 0, 1, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            var e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(bytes[..length])));
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
            Assert.Throws<InvalidDataException>(() => OnnxImport.LoadWeights(network, new MemoryStream(bytes[..length])));
        }

        // Random damage anywhere: the import either succeeds or throws InvalidDataException, never anything else.
        var random = new Random(3);
        int trials = int.TryParse(Environment.GetEnvironmentVariable("FLATDEBIAS_ONNX_FUZZ_TRIALS"), out var t) ? t : 200;
        for (int trial = 0; trial < trials; trial++)
        {
            var corrupted = (byte[])bytes.Clone();
            for (int i = 0; i < 4; i++) corrupted[random.Next(corrupted.Length)] = (byte)random.Next(256);
            try
            {
                using var loaded = OnnxImport.LoadNetwork(new MemoryStream(corrupted));
                // A flip inside a float value leaves a well-formed file: that is not detectable, and fine.
            }
            catch (InvalidDataException) { }
        }

        var garbage = new byte[4096];
        random.NextBytes(garbage);
        Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(garbage)));
        var text = "this is not an ONNX model"u8.ToArray();
        Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(text)));
    }

    [Fact]
    public void Damaged_metadata_is_checked_against_the_tensors_before_a_network_is_built()
    {
        using var network = OnnxTestNetworks.Create("ResNet18");
        var model = ModelProto.Parser.ParseFrom(OnnxTestNetworks.Export(network));
        model.MetadataProps.Single(p => p.Key == "flatdebias.width").Value = "1000000000";
        var e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(model.ToByteArray())));
        Assert.Contains("'conv1.weight' of shape [1000000000, 3, 7, 7]; the file has [4, 3, 7, 7]", e.Message);

        model.MetadataProps.Single(p => p.Key == "flatdebias.width").Value = "4";
        model.MetadataProps.Single(p => p.Key == "flatdebias.blocks_per_stage").Value = "2,2,2,3";
        e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(model.ToByteArray())));
        Assert.Contains("metadata says 9 residual blocks; the file has 8", e.Message);

        model.MetadataProps.Single(p => p.Key == "flatdebias.blocks_per_stage").Value = "2,2,2,1,1";
        e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(model.ToByteArray())));
        Assert.Contains("does not describe a valid ResNet", e.Message);
    }

    [Fact]
    public void Damaged_linear_metadata_is_checked_against_the_head()
    {
        using var network = OnnxTestNetworks.Create("LinearFeatures");
        var model = ModelProto.Parser.ParseFrom(OnnxTestNetworks.Export(network));
        model.MetadataProps.Single(p => p.Key == "flatdebias.input_shape").Value = "511,1,1";
        var e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(model.ToByteArray())));
        Assert.Contains("'fc.weight' of shape [3, 511]; the file has [3, 512]", e.Message);
    }

    [Fact]
    public void A_foreign_model_cannot_be_rebuilt_and_the_message_says_why()
    {
        using var network = OnnxTestNetworks.Create("Mlp");
        var model = ModelProto.Parser.ParseFrom(OnnxTestNetworks.Export(network));
        model.MetadataProps.Clear();
        var e = Assert.Throws<InvalidDataException>(() => OnnxImport.LoadNetwork(new MemoryStream(model.ToByteArray())));
        Assert.Contains("not written by OnnxExport", e.Message);
    }

    private static ClassifierNetwork Roundtrip(ClassifierNetwork network)
    {
        using (network) return OnnxImport.LoadNetwork(new MemoryStream(OnnxTestNetworks.Export(network)));
    }
}
