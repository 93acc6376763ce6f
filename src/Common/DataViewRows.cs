using Microsoft.ML;

namespace MLNet.FlatDebias.Common;

/// <summary>Whether a data view has rows, counted without reading any column.</summary>
internal static class DataViewRows
{
    /// <summary>True when <paramref name="data"/> has at least one row: its row count when it knows it, else one step of a
    /// cursor over no columns.</summary>
    public static bool Any(IDataView data)
    {
        if (data.GetRowCount() is long count) return count > 0;
        using var cursor = data.GetRowCursor([]);
        return cursor.MoveNext();
    }
}
