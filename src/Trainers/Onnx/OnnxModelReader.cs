using Google.Protobuf;
using Onnx;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Parses an ONNX model from a stream, turning every kind of damage into an <see cref="InvalidDataException"/>.</summary>
internal static class OnnxModelReader
{
    /// <summary>Reads the rest of <paramref name="source"/> as an ONNX <see cref="ModelProto"/> with a graph.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a protobuf-encoded ONNX model (truncated, corrupted,
    /// another format) or the model has no graph.</exception>
    public static ModelProto Read(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.CanRead) throw new ArgumentException("The ONNX stream is not readable.", nameof(source));
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(source);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The stream is not a readable ONNX model (truncated or corrupted protobuf data): {e.Message}", e);
        }
        if (model.Graph is null || (model.Graph.Node.Count == 0 && model.Graph.Initializer.Count == 0))
            throw new InvalidDataException("The stream is not an ONNX model: it holds no graph (an empty, truncated or foreign file).");
        return model;
    }
}
