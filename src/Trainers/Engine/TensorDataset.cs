using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// A data view materialised once into tensors on the CPU (in memory or memory-mapped from a file): features in their storage type, labels (zero-based
/// class indices), optional groups and weights. Row <c>i</c> is the data view's <c>i</c>-th row, a stable index
/// across epochs.
/// </summary>
internal sealed class TensorDataset : IDisposable
{
    private readonly IDisposable? storage;

    public TensorDataset(Tensor features, float storageScale, ImageShape shape, long[] labels, int classCount,
        int[]? groups, IReadOnlyList<string>? groupNames, float[]? weights, bool onDisk = false, IDisposable? storage = null)
    {
        OnDisk = onDisk;
        this.storage = storage;
        Features = features;
        StorageScale = storageScale;
        Shape = shape;
        Labels = labels;
        ClassCount = classCount;
        Groups = groups;
        GroupNames = groupNames;
        Weights = weights;
    }

    /// <summary>Features <c>[N, C, H, W]</c> as stored (float32, float16 or uint8).</summary>
    public Tensor Features { get; }

    /// <summary>Multiply stored values by this to get the features (1/255 for uint8 storage, else 1).</summary>
    public float StorageScale { get; }

    public ImageShape Shape { get; }

    public long[] Labels { get; }

    public int ClassCount { get; }

    /// <summary>Per-row group index into <see cref="GroupNames"/>, or null when no group column was read.</summary>
    public int[]? Groups { get; }

    public IReadOnlyList<string>? GroupNames { get; }

    public float[]? Weights { get; }

    public int Count => Labels.Length;

    /// <summary>Whether <see cref="Features"/> is a memory-mapped file rather than memory.</summary>
    public bool OnDisk { get; }

    /// <summary>The features of the given rows as float32 on <paramref name="device"/>.</summary>
    public Tensor FeatureBatch(long[] rows, Device device)
    {
        using var scope = NewDisposeScope();
        using var index = tensor(rows);
        var batch = Features.index_select(0, index).to(device).to(ScalarType.Float32);
        if (StorageScale != 1f) batch = batch * StorageScale;
        return batch.MoveToOuterDisposeScope();
    }

    public Tensor LabelBatch(long[] rows, Device device)
    {
        var values = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++) values[i] = Labels[rows[i]];
        return tensor(values, device: device);
    }

    public Tensor? GroupBatch(long[] rows, Device device)
    {
        if (Groups is null) return null;
        var values = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++) values[i] = Groups[rows[i]];
        return tensor(values, device: device);
    }

    public Tensor? WeightBatch(long[] rows, Device device)
    {
        if (Weights is null) return null;
        var values = new float[rows.Length];
        for (int i = 0; i < rows.Length; i++) values[i] = Weights[rows[i]];
        return tensor(values, device: device);
    }

    public void Dispose()
    {
        Features.Dispose();
        storage?.Dispose();
    }
}
