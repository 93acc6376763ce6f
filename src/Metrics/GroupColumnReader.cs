using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;

namespace MLNet.FlatDebias.Metrics;

/// <summary>
/// Reads a group column of type key, string, integer or bool into a <see cref="GroupColumn"/>, with a stable
/// group order: a key column in key order, named by its <c>KeyValues</c> annotation when present (else by the
/// zero-based key index); a string column in ordinal order; an integer column in numeric order; a bool column
/// <c>False</c> then <c>True</c>. Integer and bool values are named by their invariant-culture text, so a key
/// column made by <c>MapValueToKey</c> from a string, integer or bool column has the same group names as that
/// column.
/// </summary>
internal static class GroupColumnReader
{
    /// <summary>The role named in schema errors.</summary>
    public const string Role = "group";

    private const string Expected = "Key, String, integer (Int32, Int64, ...) or Boolean";

    /// <summary>Checks that <paramref name="column"/> has a supported type.</summary>
    /// <exception cref="ArgumentOutOfRangeException">ML.NET's schema mismatch, naming the column.</exception>
    public static void CheckType(DataViewSchema.Column column)
    {
        var type = column.Type;
        bool supported = type switch
        {
            KeyDataViewType key => key.Count > 0 && key.Count <= int.MaxValue,
            TextDataViewType or BooleanDataViewType => true,
            NumberDataViewType => IsInteger(type.RawType),
            _ => false,
        };
        if (!supported) throw SchemaGuard.Mismatch(Role, column.Name, Expected, SchemaGuard.Describe(type));
    }

    /// <summary>Reads the group column named <paramref name="columnName"/> of every row of <paramref name="data"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or of another type (ML.NET's wording).</exception>
    /// <exception cref="InvalidOperationException">The data view has no rows, or a row's group is missing
    /// (key value 0, an empty string); the message names the row.</exception>
    public static GroupColumn Read(IDataView data, string columnName)
    {
        ArgumentNullException.ThrowIfNull(data);
        var column = SchemaGuard.RequireColumn(data.Schema, Role, columnName);
        CheckType(column);
        var raw = column.Type.RawType;
        return column.Type switch
        {
            KeyDataViewType => ReadKey(data, column),
            TextDataViewType => ReadValues<ReadOnlyMemory<char>, string>(data, column,
                v => v.Span.IsWhiteSpace(), v => v.ToString(), StringComparer.Ordinal, v => v),
            BooleanDataViewType => ReadValues<bool, bool>(data, column, _ => false, v => v, Comparer<bool>.Default, v => v.ToString()),
            _ when raw == typeof(int) => ReadIntegers<int>(data, column),
            _ when raw == typeof(long) => ReadIntegers<long>(data, column),
            _ when raw == typeof(short) => ReadIntegers<short>(data, column),
            _ when raw == typeof(sbyte) => ReadIntegers<sbyte>(data, column),
            _ when raw == typeof(uint) => ReadIntegers<uint>(data, column),
            _ when raw == typeof(ulong) => ReadIntegers<ulong>(data, column),
            _ when raw == typeof(ushort) => ReadIntegers<ushort>(data, column),
            _ when raw == typeof(byte) => ReadIntegers<byte>(data, column),
            _ => throw SchemaGuard.Mismatch(Role, column.Name, Expected, SchemaGuard.Describe(column.Type)),
        };
    }

    /// <summary>The error for an empty data view.</summary>
    public static InvalidOperationException NoRows() => new("The data view has no rows: there is nothing to evaluate.");

    private static bool IsInteger(Type raw)
        => raw == typeof(sbyte) || raw == typeof(byte) || raw == typeof(short) || raw == typeof(ushort)
        || raw == typeof(int) || raw == typeof(uint) || raw == typeof(long) || raw == typeof(ulong);

    private static InvalidOperationException MissingGroup(string columnName, long row)
        => new($"Row {row} of the {Role} column '{columnName}' has no group (a missing value); every row needs a group.");

    private static GroupColumn ReadKey(IDataView data, DataViewSchema.Column column)
    {
        var indices = new List<int>();
        using (var cursor = data.GetRowCursor([column]))
        {
            var index = KeyColumn.IndexGetter(cursor, column);
            while (cursor.MoveNext())
            {
                int group = index();
                if (group == KeyColumn.Missing) throw MissingGroup(column.Name, cursor.Position);
                indices.Add(group);
            }
        }
        if (indices.Count == 0) throw NoRows();
        var names = KeyNames.Get(column);
        RequireDistinct(column.Name, names);
        return new GroupColumn(column.Name, indices.ToArray(), names);
    }

    private static GroupColumn ReadIntegers<T>(IDataView data, DataViewSchema.Column column) where T : IFormattable
        => ReadValues<T, T>(data, column, _ => false, v => v, Comparer<T>.Default, v => v.ToString(null, CultureInfo.InvariantCulture));

    private static GroupColumn ReadValues<TRaw, TValue>(IDataView data, DataViewSchema.Column column,
        Func<TRaw, bool> isMissing, Func<TRaw, TValue> toValue, IComparer<TValue> order, Func<TValue, string> name)
        where TValue : notnull
    {
        var firstSeen = new Dictionary<TValue, int>();
        var seenOrder = new List<TValue>();
        var provisional = new List<int>();
        using (var cursor = data.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<TRaw>(column);
            TRaw raw = default!;
            while (cursor.MoveNext())
            {
                getter(ref raw);
                if (isMissing(raw)) throw MissingGroup(column.Name, cursor.Position);
                var value = toValue(raw);
                if (!firstSeen.TryGetValue(value, out int id))
                {
                    id = seenOrder.Count;
                    firstSeen.Add(value, id);
                    seenOrder.Add(value);
                }
                provisional.Add(id);
            }
        }
        if (provisional.Count == 0) throw NoRows();

        var sorted = Enumerable.Range(0, seenOrder.Count).OrderBy(i => seenOrder[i], order).ToArray();
        var rank = new int[sorted.Length];
        for (int r = 0; r < sorted.Length; r++) rank[sorted[r]] = r;
        var indices = new int[provisional.Count];
        for (int i = 0; i < indices.Length; i++) indices[i] = rank[provisional[i]];
        var names = sorted.Select(i => name(seenOrder[i])).ToArray();
        return new GroupColumn(column.Name, indices, names);
    }

    private static void RequireDistinct(string columnName, IReadOnlyList<string> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in names)
            if (!seen.Add(n))
                throw new InvalidOperationException($"The {Role} column '{columnName}' names two key values '{n}'; group names must be distinct.");
    }
}
