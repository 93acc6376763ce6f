using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Examples;

/// <summary>Images with their labels and groups, read once from an <see cref="IDataView"/> into memory (for the
/// per-sample trace distributions, which need the pixels as tensors).</summary>
public sealed class LabelledImages
{
    private LabelledImages(float[] features, int rowSize, int[] labels, int[] groups, IReadOnlyList<string> groupNames)
    {
        Features = features;
        RowSize = rowSize;
        Labels = labels;
        Groups = groups;
        GroupNames = groupNames;
    }

    /// <summary>The rows' features, one after the other.</summary>
    public float[] Features { get; }

    /// <summary>Values per row.</summary>
    public int RowSize { get; }

    /// <summary>Zero-based class of each row.</summary>
    public int[] Labels { get; }

    /// <summary>Zero-based group of each row.</summary>
    public int[] Groups { get; }

    /// <summary>The group names, by group index (the group column's key values).</summary>
    public IReadOnlyList<string> GroupNames { get; }

    /// <summary>Number of rows.</summary>
    public int Count => Labels.Length;

    /// <summary>
    /// Reads the feature vector, the key label and the key group of each row, keeping at most
    /// <paramref name="maxRowsPerGroup"/> rows of each group (the first ones in data order).
    /// </summary>
    /// <param name="data">The data (e.g. the preprocessed training set).</param>
    /// <param name="featureColumn">A known-size Single vector column.</param>
    /// <param name="labelColumn">A key column.</param>
    /// <param name="groupColumn">A key column with key values.</param>
    /// <param name="maxRowsPerGroup">The cap per group.</param>
    /// <returns>The rows.</returns>
    public static LabelledImages Read(IDataView data, string featureColumn, string labelColumn, string groupColumn, int maxRowsPerGroup = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(data);
        var features = data.Schema[featureColumn];
        var label = data.Schema[labelColumn];
        var group = data.Schema[groupColumn];
        int size = features.Type is VectorDataViewType { Size: > 0 } vector ? vector.Size : throw new ArgumentException($"Column '{featureColumn}' is not a known-size vector.", nameof(featureColumn));
        VBuffer<ReadOnlyMemory<char>> names = default;
        group.GetKeyValues(ref names);
        var groupNames = names.DenseValues().Select(n => n.ToString()).ToArray();

        var values = new List<float>();
        var labels = new List<int>();
        var groups = new List<int>();
        var taken = new int[groupNames.Length];
        using var cursor = data.GetRowCursor([features, label, group]);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(features);
        var getLabel = cursor.GetGetter<uint>(label);
        var getGroup = cursor.GetGetter<uint>(group);
        VBuffer<float> row = default;
        uint l = 0, g = 0;
        while (cursor.MoveNext())
        {
            getGroup(ref g);
            if (g == 0) throw new InvalidDataException($"A row has no value in the group column '{groupColumn}'.");
            if (taken[g - 1] >= maxRowsPerGroup) continue;
            taken[g - 1]++;
            getLabel(ref l);
            getFeatures(ref row);
            values.AddRange(row.DenseValues());
            labels.Add((int)l - 1);
            groups.Add((int)g - 1);
        }
        return new LabelledImages([.. values], size, [.. labels], [.. groups], groupNames);
    }
}
