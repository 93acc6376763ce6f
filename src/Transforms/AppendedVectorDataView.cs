using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// A data view with one more column: a known-size Single vector per row, computed beforehand and held in memory (row
/// <c>i</c> of the input gets <c>values[i]</c>). A column of the same name in the input is hidden, as ML.NET's transforms
/// do. Cursors run in input order (the view cannot shuffle), which is all <c>SaveAsBinary</c> needs.
/// </summary>
internal sealed class AppendedVectorDataView : IDataView
{
    private readonly IDataView _input;
    private readonly float[][] _values;
    private readonly int _index;

    public AppendedVectorDataView(IDataView input, string name, int size, float[][] values)
    {
        _input = input;
        _values = values;
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input.Schema);
        builder.AddColumn(name, new VectorDataViewType(NumberDataViewType.Single, size));
        Schema = builder.ToSchema();
        _index = input.Schema.Count;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _values.Length;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        var needed = columnsNeeded.Where(c => c.Index != _index).Select(c => _input.Schema[c.Index]).ToList();
        return new Cursor(this, _input.GetRowCursor(needed), columnsNeeded.Any(c => c.Index == _index));
    }

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => [GetRowCursor(columnsNeeded, rand)];

    private sealed class Cursor(AppendedVectorDataView parent, DataViewRowCursor input, bool appendedActive) : DataViewRowCursor
    {
        public override DataViewSchema Schema => parent.Schema;

        public override long Position => input.Position;

        public override long Batch => input.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index == parent._index ? appendedActive : input.IsColumnActive(parent._input.Schema[column.Index]);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != parent._index) return input.GetGetter<TValue>(parent._input.Schema[column.Index]);
            if (typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Column '{column.Name}' is a vector of Single; asked for {typeof(TValue).Name}.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var row = parent._values[checked((int)input.Position)];
                var editor = VBufferEditor.Create(ref value, row.Length);
                row.CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override bool MoveNext() => input.MoveNext();

        protected override void Dispose(bool disposing)
        {
            if (disposing) input.Dispose();
            base.Dispose(disposing);
        }
    }
}
