using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>A data view unchanged, that calls back after every row any of its cursors moves to (for progress bars).</summary>
internal sealed class RowCountingDataView(IDataView inner, Action<long> rowsRead) : IDataView
{
    private long _rows;

    public bool CanShuffle => inner.CanShuffle;

    public DataViewSchema Schema => inner.Schema;

    public long? GetRowCount() => inner.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, inner.GetRowCursor(columnsNeeded, rand));

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => inner.GetRowCursorSet(columnsNeeded, n, rand).Select(c => (DataViewRowCursor)new Cursor(this, c)).ToArray();

    private void Count() => rowsRead(Interlocked.Increment(ref _rows));

    private sealed class Cursor(RowCountingDataView parent, DataViewRowCursor cursor) : DataViewRowCursor
    {
        public override DataViewSchema Schema => cursor.Schema;

        public override long Position => cursor.Position;

        public override long Batch => cursor.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => cursor.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => cursor.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => cursor.GetGetter<TValue>(column);

        public override bool MoveNext()
        {
            if (!cursor.MoveNext()) return false;
            parent.Count();
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) cursor.Dispose();
            base.Dispose(disposing);
        }
    }
}
