using MLNet.FlatDebias.Common;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Metrics;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// Materialises a data view into a <see cref="TensorDataset"/> in one pass, checking every row before any
/// training step: finite features, a label on every row, non-negative finite weights.
/// </summary>
internal static class DataViewTensorReader
{
    /// <param name="data">The data view.</param>
    /// <param name="layout">Its checked columns.</param>
    /// <param name="storage">How to hold the features.</param>
    /// <param name="cache">Where: memory, a memory-mapped file, or memory up to <paramref name="budgetBytes"/>.</param>
    /// <param name="budgetBytes">The in-memory budget for <see cref="FeatureCache.Auto"/>.</param>
    /// <param name="directory">The folder for the file.</param>
    /// <param name="role">"training" or "validation", for messages.</param>
    public static TensorDataset Read(IDataView data, ColumnLayout layout, FeatureStorage storage, FeatureCache cache, long budgetBytes,
        string directory, string role)
    {
        var sink = new FeatureSink(layout.Shape, cache, budgetBytes, directory, role);
        try
        {
            return Read(data, layout, storage, sink, role);
        }
        catch
        {
            sink.Dispose();
            throw;
        }
    }

    private static TensorDataset Read(IDataView data, ColumnLayout layout, FeatureStorage storage, FeatureSink sink, string role)
    {
        int size = layout.Shape.Size;
        var labels = new List<long>();
        var weights = layout.Weight is null ? null : new List<float>();
        bool allBytes = true;

        var columns = new List<DataViewSchema.Column> { layout.Features, layout.Label };
        if (layout.Weight is DataViewSchema.Column w) columns.Add(w);
        using (var cursor = data.GetRowCursor(columns))
        {
            var featureGetter = cursor.GetGetter<VBuffer<float>>(layout.Features);
            var labelGetter = KeyColumn.IndexGetter(cursor, layout.Label);
            Func<float>? weightGetter = layout.Weight is DataViewSchema.Column wc ? WeightGetter(cursor, wc) : null;
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                long row = cursor.Position;
                featureGetter(ref buffer);
                if (buffer.Length != size)
                    throw new InvalidOperationException($"Row {row} of the {role} data has {buffer.Length} values in the feature column '{layout.Features.Name}'; expected {size} ({layout.Shape}).");
                var target = sink.NextRow();
                buffer.CopyTo(target);
                for (int i = 0; i < size; i++)
                {
                    float v = target[i];
                    if (!float.IsFinite(v))
                        throw new InvalidOperationException($"Row {row} of the {role} data has a non-finite value ({v}) at index {i} of the feature column '{layout.Features.Name}'. Features must be finite.");
                    if (allBytes && (v < 0 || v > 1 || MathF.Abs(v * 255f - MathF.Round(v * 255f)) > 1e-3f)) allBytes = false;
                }

                int label = labelGetter();
                if (label == KeyColumn.Missing)
                    throw new InvalidOperationException($"Row {row} of the {role} data has a missing value in the label column '{layout.Label.Name}'. Every row needs a label.");
                labels.Add(label);

                if (weightGetter is not null)
                {
                    float weight = weightGetter();
                    if (!(weight >= 0) || !float.IsFinite(weight))
                        throw new InvalidOperationException($"Row {row} of the {role} data has example weight {weight} in column '{layout.Weight!.Value.Name}'; weights must be finite and >= 0.");
                    weights!.Add(weight);
                }
            }
        }
        if (labels.Count == 0) throw new InvalidOperationException($"The {role} data view has no rows.");

        int[]? groups = null;
        IReadOnlyList<string>? groupNames = null;
        if (layout.Group is DataViewSchema.Column g)
        {
            var read = GroupColumnReader.Read(data, g.Name);
            groups = read.Indices;
            groupNames = read.Names;
        }

        var chosen = storage switch
        {
            FeatureStorage.Auto => allBytes ? FeatureStorage.UInt8 : FeatureStorage.Float32,
            FeatureStorage.UInt8 when !allBytes => throw new InvalidOperationException(
                $"FeatureStorage.UInt8 needs every value of the feature column '{layout.Features.Name}' to be a multiple of 1/255 in [0, 1]; use Float32 or Float16."),
            _ => storage,
        };
        var features = sink.Finish(chosen);
        return new TensorDataset(features, chosen == FeatureStorage.UInt8 ? 1f / 255f : 1f, layout.Shape, labels.ToArray(),
            layout.Classes.Count, groups, groupNames, weights?.ToArray(), sink.OnDisk, sink);
    }

    private static Func<float> WeightGetter(DataViewRow row, DataViewSchema.Column column)
    {
        if (column.Type == NumberDataViewType.Double)
        {
            var getter = row.GetGetter<double>(column);
            double value = 0;
            return () => { getter(ref value); return (float)value; };
        }
        var single = row.GetGetter<float>(column);
        float v = 0;
        return () => { single(ref v); return v; };
    }
}
