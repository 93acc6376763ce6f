namespace MLNet.FlatDebias.Metrics;

/// <summary>A group column read into memory: one group index per row and one name per group.</summary>
/// <param name="ColumnName">The column the groups were read from.</param>
/// <param name="Indices">Per row, the zero-based index of its group in <paramref name="Names"/>.</param>
/// <param name="Names">The group names in the stable order of <see cref="GroupColumnReader"/>. For a key
/// column every key value is listed, so a group may have no rows.</param>
internal sealed record GroupColumn(string ColumnName, int[] Indices, IReadOnlyList<string> Names);
