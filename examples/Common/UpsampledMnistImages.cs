using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Datasets.Mnist;

namespace MLNet.FlatDebias.Examples;

/// <summary>A biased MNIST split as ImageNet-normalised RGB images of 224 x 224 pixels, the input of the built-in
/// ResNet-18 (<c>PretrainedFeatures</c>): each 28 x 28 grey image upsampled 8 times by repeating pixels and copied to the
/// three channels, then normalised with ImageNet's per-channel mean and standard deviation. Rows are made as they are
/// read (a split of 10,000 images would take 6 GB in memory).</summary>
public static class UpsampledMnistImages
{
    /// <summary>The image side the backbone takes.</summary>
    public const int Size = 224;

    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Deviation = [0.229f, 0.224f, 0.225f];

    /// <summary>What the transformation is, for a feature file's key.</summary>
    public const string Description = "grey 28 px MNIST upsampled 8x by pixel repetition to 3x224x224, ImageNet mean/std normalised";

    /// <summary>The split's rows with columns <c>Label</c> and <c>Group</c> (keys, as the split's data view has them) and
    /// <c>Features</c> (<c>Vector&lt;Single, 3, 224, 224&gt;</c>).</summary>
    /// <param name="ml">The ML.NET context.</param>
    /// <param name="split">A split of 28 x 28 grey images.</param>
    /// <returns>The rows, made as they are read.</returns>
    public static IDataView Create(MLContext ml, BiasedMnistSplit split)
    {
        if (split.Height * 8 != Size || split.Width * 8 != Size)
            throw new ArgumentException($"Expected 28 x 28 images, got {split.Height} x {split.Width}.", nameof(split));
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, Size, Size);
        DefineKey(schema, nameof(Row.Label), split.ClassNames);
        DefineKey(schema, nameof(Row.Group), split.GroupNames);
        return ml.Data.LoadFromEnumerable(Rows(split), schema);
    }

    /// <summary>What identifies a split's images, for a feature file's key: its rows' MNIST source rows, labels and
    /// attributes (with MNIST itself, they make every image), hashed.</summary>
    /// <param name="split">The split.</param>
    /// <param name="name">What the split is, first in the text.</param>
    /// <returns><c>name, rows N, sha256 ...</c>.</returns>
    public static string DescribeSplit(BiasedMnistSplit split, string name)
    {
        var values = split.SourceRows.Concat(split.Labels).Concat(split.Attributes).SelectMany(BitConverter.GetBytes).ToArray();
        return $"{name}, rows {split.Count}, sha256 {Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(values))}";
    }

    /// <summary>A key column with these value names (the row holds the 0-based index; ML.NET stores it + 1).</summary>
    private static void DefineKey(SchemaDefinition schema, string name, IReadOnlyList<string> names)
    {
        var column = schema[name];
        column.ColumnType = new KeyDataViewType(typeof(uint), names.Count);
        var values = new VBuffer<ReadOnlyMemory<char>>(names.Count, names.Select(n => n.AsMemory()).ToArray());
        column.AddAnnotation("KeyValues", values, new VectorDataViewType(TextDataViewType.Instance, names.Count));
    }

    private static IEnumerable<Row> Rows(BiasedMnistSplit split)
    {
        var grey = new float[28 * 28];
        for (int i = 0; i < split.Count; i++)
        {
            split.CopyImage(i, grey);
            var pixels = new float[3 * Size * Size];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < Size; y++)
                    for (int x = 0; x < Size; x++)
                        pixels[(c * Size + y) * Size + x] = (grey[(y / 8) * 28 + x / 8] - Mean[c]) / Deviation[c];
            yield return new Row { Label = (uint)split.Labels[i], Group = (uint)split.Group(i), Features = pixels };
        }
    }

    private sealed class Row
    {
        public uint Label { get; set; }

        public uint Group { get; set; }

        public float[] Features { get; set; } = [];
    }
}
