using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// The label column's classes: their count and, when the key column has a <c>KeyValues</c> annotation, its
/// values (of any primitive type) so that the predicted label can carry the same annotation.
/// </summary>
internal sealed class LabelClasses
{
    private LabelClasses(int count, PrimitiveDataViewType? valueType, Array? values, IReadOnlyList<string> names)
    {
        Count = count;
        ValueType = valueType;
        Values = values;
        Names = names;
    }

    /// <summary>Number of classes (the key count).</summary>
    public int Count { get; }

    /// <summary>Item type of the key values, or null when the label has no <c>KeyValues</c> annotation.</summary>
    public PrimitiveDataViewType? ValueType { get; }

    /// <summary>The key values (a <c>T[]</c> of <see cref="ValueType"/>'s raw type), or null.</summary>
    public Array? Values { get; }

    /// <summary>Class names: the key values as text, or the zero-based index.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Reads the classes of a key label column.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a key column (ML.NET's wording).</exception>
    public static LabelClasses Read(DataViewSchema.Column column)
    {
        if (column.Type is not KeyDataViewType key || key.Count < 1 || key.Count > int.MaxValue)
            throw SchemaGuard.Mismatch("label", column.Name, "Key (e.g. from MapValueToKey)", SchemaGuard.Describe(column.Type));
        int count = (int)key.Count;
        var annotation = column.Annotations.Schema.GetColumnOrNull(KeyColumn.KeyValuesKind);
        if (annotation?.Type is VectorDataViewType { ItemType: PrimitiveDataViewType itemType })
        {
            var values = ReadValues(column, itemType);
            if (values is not null && values.Length == count)
                return new LabelClasses(count, itemType, values, values.Cast<object>().Select(v => Format(v)).ToArray());
        }
        return new LabelClasses(count, null, null, Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    /// <summary>Adds the <c>KeyValues</c> annotation (when the label had one) to an annotation builder.</summary>
    public void AddKeyValues(DataViewSchema.Annotations.Builder builder)
    {
        if (ValueType is null || Values is null) return;
        switch (Values)
        {
            case ReadOnlyMemory<char>[] v: Add(builder, v, ValueType); break;
            case float[] v: Add(builder, v, ValueType); break;
            case double[] v: Add(builder, v, ValueType); break;
            case int[] v: Add(builder, v, ValueType); break;
            case uint[] v: Add(builder, v, ValueType); break;
            case long[] v: Add(builder, v, ValueType); break;
            case ulong[] v: Add(builder, v, ValueType); break;
            case short[] v: Add(builder, v, ValueType); break;
            case ushort[] v: Add(builder, v, ValueType); break;
            case byte[] v: Add(builder, v, ValueType); break;
            case sbyte[] v: Add(builder, v, ValueType); break;
            case bool[] v: Add(builder, v, ValueType); break;
        }
    }

    private static void Add<T>(DataViewSchema.Annotations.Builder builder, T[] values, PrimitiveDataViewType itemType)
    {
        ValueGetter<VBuffer<T>> getter = (ref VBuffer<T> dst) => dst = new VBuffer<T>(values.Length, (T[])values.Clone());
        builder.Add(KeyColumn.KeyValuesKind, new VectorDataViewType(itemType, values.Length), getter);
    }

    private static Array? ReadValues(DataViewSchema.Column column, PrimitiveDataViewType itemType)
    {
        var raw = itemType.RawType;
        if (raw == typeof(ReadOnlyMemory<char>)) return Get<ReadOnlyMemory<char>>(column);
        if (raw == typeof(float)) return Get<float>(column);
        if (raw == typeof(double)) return Get<double>(column);
        if (raw == typeof(int)) return Get<int>(column);
        if (raw == typeof(uint)) return Get<uint>(column);
        if (raw == typeof(long)) return Get<long>(column);
        if (raw == typeof(ulong)) return Get<ulong>(column);
        if (raw == typeof(short)) return Get<short>(column);
        if (raw == typeof(ushort)) return Get<ushort>(column);
        if (raw == typeof(byte)) return Get<byte>(column);
        if (raw == typeof(sbyte)) return Get<sbyte>(column);
        if (raw == typeof(bool)) return Get<bool>(column);
        return null;
    }

    private static T[] Get<T>(DataViewSchema.Column column)
    {
        VBuffer<T> buffer = default;
        column.Annotations.GetValue(KeyColumn.KeyValuesKind, ref buffer);
        return buffer.DenseValues().ToArray();
    }

    private static string Format(object value) => value switch
    {
        ReadOnlyMemory<char> text => text.ToString(),
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
