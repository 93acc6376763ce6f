using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Converts between TorchSharp tensors and ONNX <see cref="TensorProto"/>s (float32 and int64, little-endian raw data).</summary>
internal static class OnnxTensors
{
    /// <summary>A float32 tensor as an ONNX tensor named <paramref name="name"/>, values in <c>raw_data</c>.</summary>
    public static TensorProto FromFloat(string name, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var values = tensor.detach().to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        proto.Dims.AddRange(tensor.shape);
        proto.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return proto;
    }

    /// <summary>An int64 ONNX tensor of the given shape.</summary>
    public static TensorProto FromInt64(string name, long[] values, params long[] dims)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        proto.Dims.AddRange(dims);
        proto.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        return proto;
    }

    /// <summary>A one-dimensional string ONNX tensor (UTF-8).</summary>
    public static TensorProto FromStrings(string name, IReadOnlyList<string> values)
    {
        var proto = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.String };
        proto.Dims.Add(values.Count);
        proto.StringData.AddRange(values.Select(ByteString.CopyFromUtf8));
        return proto;
    }

    /// <summary>Number of elements of an ONNX tensor, checking that its dimensions are valid.</summary>
    /// <exception cref="InvalidDataException">A dimension is negative or the count overflows.</exception>
    public static long ElementCount(TensorProto proto)
    {
        long count = 1;
        foreach (var d in proto.Dims)
        {
            if (d < 0) throw new InvalidDataException($"Tensor '{proto.Name}' has a negative dimension ({d}).");
            count = checked(count * d);
        }
        return count;
    }

    /// <summary>
    /// An ONNX float32 or int64 tensor as a new TorchSharp tensor (float32 or int64), from <c>raw_data</c> or the
    /// typed value list.
    /// </summary>
    /// <exception cref="InvalidDataException">Another element type, external data, or a value count that does not
    /// match the dimensions; the message names the tensor.</exception>
    public static Tensor ToTensor(TensorProto proto)
    {
        if (proto.DataLocation == TensorProto.Types.DataLocation.External || proto.ExternalData.Count > 0)
            throw new InvalidDataException($"Tensor '{proto.Name}' keeps its values in an external file, which is not supported.");
        long count;
        try { count = ElementCount(proto); }
        catch (OverflowException) { throw new InvalidDataException($"Tensor '{proto.Name}' has dimensions too large to hold."); }
        var dims = proto.Dims.ToArray();
        switch ((TensorProto.Types.DataType)proto.DataType)
        {
            case TensorProto.Types.DataType.Float:
            {
                var values = proto.RawData.Length > 0
                    ? Read<float>(proto, count)
                    : CheckCount(proto, proto.FloatData.ToArray(), count);
                return tensor(values, dims, ScalarType.Float32);
            }
            case TensorProto.Types.DataType.Int64:
            {
                var values = proto.RawData.Length > 0
                    ? Read<long>(proto, count)
                    : CheckCount(proto, proto.Int64Data.ToArray(), count);
                return tensor(values, dims, ScalarType.Int64);
            }
            default:
                throw new InvalidDataException($"Tensor '{proto.Name}' has ONNX element type {proto.DataType}; only float (1) and int64 (7) are read.");
        }
    }

    private static T[] Read<T>(TensorProto proto, long count) where T : unmanaged
    {
        int size = Marshal.SizeOf<T>();
        if (proto.RawData.Length != count * size)
            throw new InvalidDataException($"Tensor '{proto.Name}' has {proto.RawData.Length} bytes of data; its shape [{string.Join(", ", proto.Dims)}] needs {count * size}.");
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("ONNX raw tensor data is little-endian; big-endian platforms are not supported.");
        return MemoryMarshal.Cast<byte, T>(proto.RawData.Span).ToArray();
    }

    private static T[] CheckCount<T>(TensorProto proto, T[] values, long count)
    {
        if (values.Length != count)
            throw new InvalidDataException($"Tensor '{proto.Name}' has {values.Length} values; its shape [{string.Join(", ", proto.Dims)}] needs {count}.");
        return values;
    }
}
