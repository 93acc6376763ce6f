using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Reads IDX files, the format of MNIST (LeCun et al.): a 4-byte magic number (two zero bytes, the element type,
/// the number of dimensions), each dimension as a big-endian 32-bit integer, then the elements in row-major
/// order. Only unsigned-byte files (type 0x08) are read, plain or gzip-compressed (detected by content).
/// </summary>
public static class IdxReader
{
    private const byte UnsignedByte = 0x08;

    /// <summary>Reads an image file (<c>*-images-idx3-ubyte</c>): 3 dimensions, images × height × width.</summary>
    /// <param name="path">The IDX file, plain or gzip-compressed.</param>
    /// <returns>The pixels, <c>[image, row, column]</c>, 0 (background) to 255 (ink).</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a 3-dimensional unsigned-byte IDX file or is truncated;
    /// the message names the file.</exception>
    public static byte[,,] ReadImages(string path)
    {
        var (dims, data) = Read(path, 3);
        var images = new byte[dims[0], dims[1], dims[2]];
        Buffer.BlockCopy(data, 0, images, 0, data.Length);
        return images;
    }

    /// <summary>Reads a label file (<c>*-labels-idx1-ubyte</c>): 1 dimension.</summary>
    /// <param name="path">The IDX file, plain or gzip-compressed.</param>
    /// <returns>One label per image.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a 1-dimensional unsigned-byte IDX file or is truncated;
    /// the message names the file.</exception>
    public static byte[] ReadLabels(string path) => Read(path, 1).Data;

    /// <summary>The dimensions and elements of an unsigned-byte IDX file with <paramref name="rank"/> dimensions.</summary>
    internal static (int[] Dims, byte[] Data) Read(string path, int rank)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"IDX file '{path}' does not exist.", path);
        using var file = File.OpenRead(path);
        using var stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
        try
        {
            Span<byte> magic = stackalloc byte[4];
            if (!TryFill(stream, magic) || magic[0] != 0 || magic[1] != 0)
                throw new InvalidDataException($"IDX file '{path}' does not start with an IDX magic number (0x0000TTDD); it is not an IDX file.");
            if (magic[2] != UnsignedByte || magic[3] != rank)
                throw new InvalidDataException($"IDX file '{path}' holds element type 0x{magic[2]:X2} with {magic[3]} dimensions; expected unsigned bytes (0x08) with {rank}.");
            var dims = new int[rank];
            Span<byte> dim = stackalloc byte[4];
            long size = 1;
            for (int d = 0; d < rank; d++)
            {
                if (!TryFill(stream, dim)) throw new InvalidDataException($"IDX file '{path}' ends inside its header.");
                dims[d] = BinaryPrimitives.ReadInt32BigEndian(dim);
                if (dims[d] < 0) throw new InvalidDataException($"IDX file '{path}' has a negative dimension {dims[d]}.");
                size *= dims[d];
            }
            if (size > Array.MaxLength) throw new InvalidDataException($"IDX file '{path}' declares {size} elements, more than an array holds.");
            var data = new byte[size];
            int read = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
            if (read < data.Length)
                throw new InvalidDataException($"IDX file '{path}' is truncated: its header [{string.Join(", ", dims)}] declares {size} bytes of data, the file has {read}.");
            return (dims, data);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith("IDX file", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"IDX file '{path}' could not be decompressed: {e.Message}", e);
        }
    }

    private static bool IsGzip(FileStream file)
    {
        Span<byte> head = stackalloc byte[2];
        int n = file.ReadAtLeast(head, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return n == 2 && head[0] == 0x1f && head[1] == 0x8b;
    }

    private static bool TryFill(Stream stream, Span<byte> buffer) => stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) == buffer.Length;
}
