using MLNet.FlatDebias.Common;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Metrics;

/// <summary>
/// Names of a key column's values: its <c>KeyValues</c> annotation as text when present (whatever the
/// annotation's item type: text, integers, booleans), otherwise the zero-based key index as text, the way
/// ML.NET's multiclass evaluator names classes it has no names for.
/// </summary>
internal static class KeyNames
{
    /// <summary>One name per key value, in key order.</summary>
    /// <param name="column">A key column.</param>
    public static string[] Get(DataViewSchema.Column column)
    {
        int count = checked((int)((KeyDataViewType)column.Type).Count);
        var annotated = FromAnnotation(column);
        if (annotated is not null && annotated.Length == count) return annotated;
        var names = new string[count];
        for (int i = 0; i < count; i++) names[i] = i.ToString(CultureInfo.InvariantCulture);
        return names;
    }

    private static string[]? FromAnnotation(DataViewSchema.Column column)
    {
        var type = column.Annotations.Schema.GetColumnOrNull(KeyColumn.KeyValuesKind)?.Type as VectorDataViewType;
        if (type is null) return null;
        var raw = type.ItemType.RawType;
        if (raw == typeof(ReadOnlyMemory<char>)) return Read<ReadOnlyMemory<char>>(column, v => v.ToString());
        if (raw == typeof(bool)) return Read<bool>(column, v => v.ToString());
        if (raw == typeof(sbyte)) return Read<sbyte>(column, Format);
        if (raw == typeof(byte)) return Read<byte>(column, Format);
        if (raw == typeof(short)) return Read<short>(column, Format);
        if (raw == typeof(ushort)) return Read<ushort>(column, Format);
        if (raw == typeof(int)) return Read<int>(column, Format);
        if (raw == typeof(uint)) return Read<uint>(column, Format);
        if (raw == typeof(long)) return Read<long>(column, Format);
        if (raw == typeof(ulong)) return Read<ulong>(column, Format);
        if (raw == typeof(float)) return Read<float>(column, v => v.ToString("R", CultureInfo.InvariantCulture));
        if (raw == typeof(double)) return Read<double>(column, v => v.ToString("R", CultureInfo.InvariantCulture));
        return null;
    }

    private static string Format<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);

    private static string[] Read<T>(DataViewSchema.Column column, Func<T, string> format)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(format).ToArray();
    }
}
