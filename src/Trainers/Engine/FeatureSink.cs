using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// Receives the feature rows of one data view pass, as float32, and turns them into the stored feature tensor:
/// in memory (chunks stacked at the end), or in a file that is memory-mapped with <c>torch.from_file</c> (written
/// as float32 while reading, converted to the storage type at the end). Under <see cref="FeatureCache.Auto"/> the
/// rows stay in memory until they pass the byte budget, then everything moves to the file.
/// </summary>
internal sealed class FeatureSink : IDisposable
{
    /// <summary>Rows per chunk: up to 512, fewer for large images so a chunk stays near 64 MB.</summary>
    private readonly int chunkRows;

    private readonly ImageShape shape;
    private readonly FeatureCache cache;
    private readonly long budgetBytes;
    private readonly string directory;
    private readonly string role;
    private readonly List<float[]> chunks = [];
    private float[]? chunk;
    private int inChunk;
    private FileStream? spill;
    private string? spillPath;
    private readonly List<string> files = [];

    /// <param name="shape">The image shape of one row.</param>
    /// <param name="cache">Memory, disk, or memory up to <paramref name="budgetBytes"/>.</param>
    /// <param name="budgetBytes">The in-memory budget for <see cref="FeatureCache.Auto"/>, in bytes of float32 rows.</param>
    /// <param name="directory">Where the file goes.</param>
    /// <param name="role">"training" or "validation", for messages.</param>
    public FeatureSink(ImageShape shape, FeatureCache cache, long budgetBytes, string directory, string role)
    {
        this.shape = shape;
        this.cache = cache;
        this.budgetBytes = budgetBytes;
        this.directory = directory;
        this.role = role;
        chunkRows = (int)Math.Clamp((64L << 20) / sizeof(float) / Math.Max(1, shape.Size), 1, 512);
        if (cache == FeatureCache.Disk) StartSpill();
    }

    /// <summary>Rows received so far.</summary>
    public int Count { get; private set; }

    /// <summary>Whether the rows went to the file (final once <see cref="Finish"/> has run).</summary>
    public bool OnDisk { get; private set; }

    /// <summary>A slot for the next row's <c>C*H*W</c> values; the caller fills it before the next call.</summary>
    public Span<float> NextRow()
    {
        if (chunk is not null && inChunk == chunkRows) Flush();
        if (chunk is null)
        {
            chunk = new float[chunkRows * shape.Size];
            inChunk = 0;
        }
        Count++;
        return chunk.AsSpan(inChunk++ * shape.Size, shape.Size);
    }

    /// <summary>The stored features <c>[N, C, H, W]</c> in <paramref name="storage"/>'s type; the sink owns the file
    /// behind a disk tensor until it is disposed.</summary>
    public Tensor Finish(FeatureStorage storage)
    {
        var dtype = storage switch { FeatureStorage.UInt8 => ScalarType.Byte, FeatureStorage.Float16 => ScalarType.Float16, _ => ScalarType.Float32 };
        Flush();
        chunk = null;
        long[] dims = [Count, shape.Channels, shape.Height, shape.Width];
        if (spill is null) return StackInMemory(dims, dtype);

        spill.Dispose();
        spill = null;
        string path = spillPath!;
        if (dtype != ScalarType.Float32) path = Convert(path, dtype);
        using var flat = from_file(path, shared: true, size: (long)Count * shape.Size, dtype: dtype);
        var mapped = flat.view(dims); // shares the mapping; the flat handle goes now, so disposing this one unmaps
        // On Linux and macOS the mapping outlives the name: remove the file now, so nothing is left behind even if
        // the process is killed. Where a mapped file cannot be removed (Windows), Dispose removes it.
        TryDelete(path);
        return mapped;
    }

    /// <summary>Removes any file the sink wrote (call after the tensor from <see cref="Finish"/> is disposed).</summary>
    public void Dispose()
    {
        spill?.Dispose();
        spill = null;
        foreach (var file in files) TryDelete(file);
    }

    private void Flush()
    {
        if (chunk is null || inChunk == 0) return;
        if (spill is null && cache == FeatureCache.Auto && (long)(chunks.Count + 1) * chunkRows * shape.Size * sizeof(float) > budgetBytes)
        {
            StartSpill();
            foreach (var c in chunks) Write(c, chunkRows);
            chunks.Clear();
        }
        if (spill is not null)
        {
            Write(chunk, inChunk); // the chunk's array is reused for the next rows
            inChunk = 0;
        }
        else
        {
            chunks.Add(chunk);
            chunk = null;
        }
    }

    private void Write(float[] values, int rows)
    {
        try
        {
            spill!.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan(0, rows * shape.Size)));
        }
        catch (IOException e)
        {
            throw new IOException($"Could not write the {role} features to the cache file '{spillPath}' in CacheDirectory '{directory}': {e.Message}", e);
        }
    }

    private void StartSpill()
    {
        string path = Path.Combine(directory, $"flatdebias-{role}-{Guid.NewGuid():N}.f32");
        try
        {
            Directory.CreateDirectory(directory);
            spill = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 20);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Could not create the {role} feature cache file in CacheDirectory '{directory}': {e.Message}", e);
        }
        spillPath = path;
        files.Add(path);
        OnDisk = true;
    }

    private Tensor StackInMemory(long[] dims, ScalarType dtype)
    {
        var result = empty(dims, dtype);
        long done = 0;
        foreach (var c in chunks)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(chunkRows, Count - done);
            var values = tensor(c, [chunkRows, shape.Channels, shape.Height, shape.Width])[TensorIndex.Slice(0, count)];
            result[TensorIndex.Slice(done, done + count)] = ToStorage(values, dtype);
            done += count;
        }
        chunks.Clear();
        return result;
    }

    /// <summary>Rewrites the float32 file in the storage type, a chunk at a time; returns the new file's path.</summary>
    private string Convert(string source, ScalarType dtype)
    {
        string target = Path.ChangeExtension(source, dtype == ScalarType.Byte ? ".u8" : ".f16");
        files.Add(target);
        try
        {
            using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var output = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 20);
            var buffer = new float[chunkRows * shape.Size];
            var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan());
            for (long done = 0; done < Count; done += chunkRows)
            {
                int rows = (int)Math.Min(chunkRows, Count - done);
                input.ReadExactly(bytes[..(rows * shape.Size * sizeof(float))]);
                using var scope = NewDisposeScope();
                var converted = ToStorage(tensor(buffer, [chunkRows * (long)shape.Size])[TensorIndex.Slice(0, rows * (long)shape.Size)], dtype).contiguous();
                output.Write(converted.bytes);
            }
        }
        catch (IOException e)
        {
            throw new IOException($"Could not write the {role} features to the cache file '{target}' in CacheDirectory '{directory}': {e.Message}", e);
        }
        TryDelete(source);
        return target;
    }

    private static Tensor ToStorage(Tensor values, ScalarType dtype)
        => dtype == ScalarType.Byte ? (values * 255f).round().to(dtype) : values.to(dtype);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Still mapped (Windows): Dispose tries again once the tensor is gone.
        }
    }
}
