using MLNet.FlatDebias.Tests.Infrastructure;
using System.IO.Compression;
using MLNet.FlatDebias.Datasets.Mnist;

namespace MLNet.FlatDebias.Tests.Transforms;

public sealed class IdxReaderTests : IDisposable
{
    private readonly TempFolder _folder = new("flatdebias-idx");

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Images_and_labels_read_back_plain_or_gzipped(bool gzip)
    {
        var images = Write("images", MnistData.Idx([2, 3, 2], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), gzip);
        var labels = Write("labels", MnistData.Idx([2], [4, 9]), gzip);
        var pixels = IdxReader.ReadImages(images);
        Assert.Equal([2, 3, 2], new[] { pixels.GetLength(0), pixels.GetLength(1), pixels.GetLength(2) });
        Assert.Equal(1, pixels[0, 0, 0]);
        Assert.Equal(4, pixels[0, 1, 1]);
        Assert.Equal(12, pixels[1, 2, 1]);
        Assert.Equal([4, 9], IdxReader.ReadLabels(labels));
    }

    [Fact]
    public void Bad_files_are_named_with_the_reason()
    {
        var text = Write("text", "hello world, not IDX"u8.ToArray());
        Assert.Contains($"IDX file '{text}' does not start with an IDX magic number", Assert.Throws<InvalidDataException>(() => IdxReader.ReadLabels(text)).Message);

        var labels = Write("labels", MnistData.Idx([2], [1, 2]));
        Assert.Contains("with 1 dimensions; expected unsigned bytes (0x08) with 3", Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(labels)).Message);

        var truncated = Write("truncated", MnistData.Idx([10, 2, 2], new byte[7]));
        var e = Assert.Throws<InvalidDataException>(() => IdxReader.ReadImages(truncated));
        Assert.Contains(truncated, e.Message);
        Assert.Contains("is truncated: its header [10, 2, 2] declares 40 bytes of data, the file has 7", e.Message);

        var missing = _folder.Combine("nothing");
        Assert.Contains(missing, Assert.Throws<FileNotFoundException>(() => IdxReader.ReadLabels(missing)).Message);
    }

    private string Write(string name, byte[] bytes, bool gzip = false)
    {
        var path = _folder.Combine(name + (gzip ? ".gz" : ""));
        using var file = File.Create(path);
        using var stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : (Stream)file;
        stream.Write(bytes);
        return path;
    }
}
