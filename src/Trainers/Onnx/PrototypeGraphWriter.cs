using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Writes a <see cref="PrototypeEnsembleHead"/> as ONNX nodes after the features: the same arithmetic as its
/// <c>forward</c>, ending in the ensemble's mean probabilities <c>[N, K]</c> (not their log).</summary>
/// <remarks>Nodes (opset 17, where <c>ReduceMean</c> and <c>ReduceL2</c> take their axes as an attribute): each row
/// centred (<c>ReduceMean</c> over axis 1, <c>Sub</c>) and scaled to unit length (<c>ReduceL2</c>, <c>Max</c> with
/// 1e-12, <c>Div</c>); <c>Gemm</c> with the transposed <c>prototypes.directions</c> giving <c>2 - 2 x . p</c>;
/// <c>Max</c> with 1e-12 and <c>Sqrt</c> for the distances; <c>Reshape</c> to <c>[N, M, K]</c>; <c>Mul</c> by
/// <c>-prototypes.scales</c> as <c>[M, 1]</c>; <c>Softmax</c> over the classes; <c>ReduceMean</c> over the
/// members.</remarks>
internal static class PrototypeGraphWriter
{
    private const string Module = "prototypes";

    /// <summary>Writes the head after <paramref name="features"/> (<c>[N, D]</c>); the output is named
    /// <paramref name="probabilities"/>.</summary>
    public static string WriteProbabilities(PrototypeEnsembleHead head, OnnxGraphBuilder g, string features, string probabilities)
    {
        long m = head.Members, k = head.Classes;
        string Scalar(string name, float value) => g.Constant(name, FloatConstant(value));

        var mean = g.Node("ReduceMean", $"{Module}.row_mean", [features], OnnxGraphBuilder.Ints("axes", 1), OnnxGraphBuilder.Int("keepdims", 1));
        var centred = g.Node("Sub", $"{Module}.centred", [features, mean]);
        var length = g.Node("ReduceL2", $"{Module}.row_length", [centred], OnnxGraphBuilder.Ints("axes", 1), OnnxGraphBuilder.Int("keepdims", 1));
        var floored = g.Node("Max", $"{Module}.row_length_floor", [length, Scalar($"{Module}.norm_floor", (float)PrototypeEnsembleHead.NormFloor)]);
        var unit = g.Node("Div", $"{Module}.unit_rows", [centred, floored]);

        var squared = g.Node("Gemm", $"{Module}.squared_distances", [unit, g.Weight($"{Module}.directions"), Scalar($"{Module}.two", 2f)],
            OnnxGraphBuilder.Int("transB", 1), OnnxGraphBuilder.Float("alpha", -2f), OnnxGraphBuilder.Float("beta", 1f));
        var clamped = g.Node("Max", $"{Module}.squared_distances_floor", [squared, Scalar($"{Module}.distance_floor", (float)PrototypeEnsembleHead.SquaredDistanceFloor)]);
        var distances = g.Node("Sqrt", $"{Module}.distances", [clamped]);
        var byMember = g.Node("Reshape", $"{Module}.distances_by_member",
            [distances, g.Constant($"{Module}.member_shape", OnnxTensors.FromInt64("", [-1, m, k], 3))]);

        var scales = g.Node("Reshape", $"{Module}.scales_column",
            [g.Weight($"{Module}.scales"), g.Constant($"{Module}.scales_shape", OnnxTensors.FromInt64("", [m, 1], 2))]);
        var logits = g.Node("Mul", $"{Module}.member_logits", [byMember, g.Node("Neg", $"{Module}.negative_scales", [scales])]);
        var memberProbabilities = g.Node("Softmax", $"{Module}.member_probabilities", [logits], OnnxGraphBuilder.Int("axis", 2));
        return g.Node("ReduceMean", probabilities, [memberProbabilities], OnnxGraphBuilder.Ints("axes", 1), OnnxGraphBuilder.Int("keepdims", 0));
    }

    private static global::Onnx.TensorProto FloatConstant(float value)
    {
        var proto = new global::Onnx.TensorProto { DataType = (int)global::Onnx.TensorProto.Types.DataType.Float };
        proto.FloatData.Add(value);
        return proto;
    }
}
