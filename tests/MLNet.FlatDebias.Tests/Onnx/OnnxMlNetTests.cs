using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Onnx;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Onnx;

/// <summary>
/// What ML.NET's ApplyOnnxModel (Microsoft.ML.OnnxTransformer 6.0.0 on ONNX Runtime 1.31.1) does with exported
/// models: the answers documented on <see cref="OnnxExportOptions"/>.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class OnnxMlNetTests
{
    private const int Rows = 4;
    private const int Classes = 3;
    private static readonly string[] Labels = ["landbird", "waterbird", "other"];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_flat_vector_column_feeds_both_the_image_shaped_and_the_flat_input(bool flattened)
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        var x = OnnxTestNetworks.Input(network, Rows);
        var scored = Score(OnnxTestNetworks.Export(network, new OnnxExportOptions { FlattenedInput = flattened }), x, out _);

        var probabilities = scored.GetColumn<float[]>("probabilities").SelectMany(p => p).ToArray();
        TensorAssert.RelativeClose(OnnxTestNetworks.Probabilities(network, x), tensor(probabilities, [Rows, Classes]), 1e-4);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    public void Outputs_are_known_size_vectors_with_a_symbolic_or_a_fixed_batch(int? batch)
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        Score(OnnxTestNetworks.Export(network, new OnnxExportOptions { FixedBatchSize = batch }), OnnxTestNetworks.Input(network, Rows), out var schema);

        // The transformer runs one row at a time and reads a symbolic batch dimension as 1: [N, K] becomes [1, K].
        var score = Assert.IsType<VectorDataViewType>(schema["probabilities"].Type);
        Assert.True(score.IsKnownSize);
        Assert.Equal(Classes, score.Size);
        Assert.Equal([1, Classes], score.Dimensions.ToArray());
        var index = Assert.IsType<VectorDataViewType>(schema["predicted_index"].Type);
        Assert.Equal(NumberDataViewType.Int64, index.ItemType);
        Assert.Equal(1, index.Size);
    }

    [Fact]
    public void String_labels_come_out_as_a_text_vector_column()
    {
        using var scope = NewDisposeScope();
        using var network = OnnxTestNetworks.Create("SmallCnnBatchNorm");
        var x = OnnxTestNetworks.Input(network, Rows);
        var scored = Score(OnnxTestNetworks.Export(network, new OnnxExportOptions { LabelValues = Labels }), x, out var schema);

        var label = Assert.IsType<VectorDataViewType>(schema["predicted_label"].Type);
        Assert.Equal(TextDataViewType.Instance, label.ItemType);
        Assert.Equal(1, label.Size);
        var names = scored.GetColumn<VBuffer<ReadOnlyMemory<char>>>("predicted_label").Select(v => v.DenseValues().Single().ToString());
        var indices = scored.GetColumn<long[]>("predicted_index").Select(v => v.Single());
        Assert.Equal(indices.Select(i => Labels[i]), names);
        Assert.Equal(OnnxTestNetworks.Probabilities(network, x).argmax(1).data<long>().ToArray(), indices);
    }

    private static IDataView Score(byte[] model, Tensor x, out DataViewSchema schema)
    {
        var ml = new MLContext(seed: 0);
        var rows = Enumerable.Range(0, (int)x.shape[0]).Select(i => new ImageRow { Input = x[i].flatten().data<float>().ToArray() });
        var data = ml.Data.LoadFromEnumerable(rows);
        var outputs = ModelOutputs(model);
        var transformer = ml.Transforms.ApplyOnnxModel(outputs, ["input"], new MemoryStream(model)).Fit(data);
        schema = transformer.GetOutputSchema(data.Schema);
        return transformer.Transform(data);
    }

    private static string[] ModelOutputs(byte[] model)
        => global::Onnx.ModelProto.Parser.ParseFrom(model).Graph.Output.Select(o => o.Name).ToArray();

    private sealed class ImageRow
    {
        [ColumnName("input")]
        [VectorType(3 * 32 * 32)]
        public float[] Input { get; set; } = [];
    }
}
