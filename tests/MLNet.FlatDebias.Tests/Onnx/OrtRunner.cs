using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Onnx;

/// <summary>Runs an ONNX model in ONNX Runtime on one float input and returns every output.</summary>
internal static class OrtRunner
{
    public sealed class Outputs
    {
        public Dictionary<string, float[]> Floats { get; } = [];
        public Dictionary<string, long[]> Longs { get; } = [];
        public Dictionary<string, string[]> Strings { get; } = [];
        public Dictionary<string, long[]> Shapes { get; } = [];

        /// <summary>A float output as a TorchSharp tensor of its shape.</summary>
        public Tensor Tensor(string name) => tensor(Floats[name], Shapes[name]);
    }

    public static Outputs Run(byte[] model, string inputName, Tensor input, long[]? inputShape = null)
    {
        var data = input.contiguous().data<float>().ToArray();
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING };
        using var session = new InferenceSession(model, options);
        using var value = OrtValue.CreateTensorValueFromMemory(data, inputShape ?? input.shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, new Dictionary<string, OrtValue> { [inputName] = value }, session.OutputNames);
        var outputs = new Outputs();
        int i = 0;
        foreach (var name in session.OutputNames)
        {
            var result = results.ElementAt(i++);
            var info = result.GetTensorTypeAndShape();
            outputs.Shapes[name] = info.Shape;
            switch (info.ElementDataType)
            {
                case TensorElementType.Float: outputs.Floats[name] = result.GetTensorDataAsSpan<float>().ToArray(); break;
                case TensorElementType.Int64: outputs.Longs[name] = result.GetTensorDataAsSpan<long>().ToArray(); break;
                case TensorElementType.String: outputs.Strings[name] = result.GetStringTensorAsArray(); break;
                default: throw new NotSupportedException($"output {name}: {info.ElementDataType}");
            }
        }
        return outputs;
    }
}
