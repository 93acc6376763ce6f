using MLNet.FlatDebias.Common;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Common;

/// <summary>
/// Key columns: reads them (label, predicted label, key group columns) as zero-based indices, whatever their raw
/// type (<see cref="byte"/>, <see cref="ushort"/>, <see cref="uint"/> or <see cref="ulong"/>), and declares them on
/// row classes for <c>LoadFromEnumerable</c>.
/// </summary>
internal static class KeyColumn
{
    /// <summary>The annotation kind ML.NET reads key names from (<c>AnnotationUtils.Kinds.KeyValues</c>, internal there).</summary>
    public const string KeyValuesKind = "KeyValues";

    /// <summary>Makes <paramref name="name"/> a key column of <c>names.Count</c> values carrying <paramref name="names"/> as KeyValues.</summary>
    /// <remarks>Such a <c>uint</c> field holds the 0-based index: <c>LoadFromEnumerable</c> stores index + 1 as the key
    /// value (0 is ML.NET's missing key, and an index ≥ count also becomes 0).</remarks>
    public static void Define(SchemaDefinition schema, string name, IReadOnlyList<string> names)
    {
        var column = schema[name];
        column.ColumnType = new KeyDataViewType(typeof(uint), names.Count);
        var values = new VBuffer<ReadOnlyMemory<char>>(names.Count, names.Select(n => n.AsMemory()).ToArray());
        column.AddAnnotation(KeyValuesKind, values, new VectorDataViewType(TextDataViewType.Instance, names.Count));
    }

    /// <summary>The value a getter from <see cref="IndexGetter"/> returns for a missing key (raw value 0) or one past the key count.</summary>
    public const int Missing = -1;

    /// <summary>The key type of <paramref name="column"/>, or a schema mismatch naming the role and the column.</summary>
    /// <param name="column">The column to check.</param>
    /// <param name="role">The column's role, e.g. <c>label</c>, for the message.</param>
    /// <param name="expected">What the message says was expected.</param>
    public static KeyDataViewType Require(DataViewSchema.Column column, string role, string expected)
    {
        if (column.Type is not KeyDataViewType key || key.Count == 0 || key.Count > int.MaxValue)
            throw SchemaGuard.Mismatch(role, column.Name, expected, SchemaGuard.Describe(column.Type));
        return key;
    }

    /// <summary>A getter of the current row's zero-based key index, or <see cref="Missing"/>.</summary>
    /// <param name="row">The cursor the column was opened on.</param>
    /// <param name="column">A key column (checked with <see cref="Require"/>).</param>
    public static Func<int> IndexGetter(DataViewRow row, DataViewSchema.Column column)
    {
        var type = (KeyDataViewType)column.Type;
        ulong count = type.Count;
        var raw = type.RawType;
        if (raw == typeof(uint)) return Make<uint>(row, column, count, v => v);
        if (raw == typeof(byte)) return Make<byte>(row, column, count, v => v);
        if (raw == typeof(ushort)) return Make<ushort>(row, column, count, v => v);
        if (raw == typeof(ulong)) return Make<ulong>(row, column, count, v => v);
        throw SchemaGuard.Mismatch("key", column.Name, "Key<Byte|UInt16|UInt32|UInt64>", SchemaGuard.Describe(type));
    }

    private static Func<int> Make<T>(DataViewRow row, DataViewSchema.Column column, ulong count, Func<T, ulong> widen)
    {
        var getter = row.GetGetter<T>(column);
        T value = default!;
        return () =>
        {
            getter(ref value);
            ulong key = widen(value);
            return key == 0 || key > count ? Missing : (int)(key - 1);
        };
    }
}
