using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// The output of an image pipeline, unchanged, except that an exception raised while an image is loaded becomes
/// an <see cref="InvalidDataException"/> naming the image file, its row and the reason. ML.NET's own exception for
/// an undecodable file (<c>ArgumentException: Invalid input stream contents</c>, often wrapped in a
/// "Splitter/consolidator worker" exception from a parallel cursor) names neither; a missing file's
/// <see cref="FileNotFoundException"/> names the file but not the row.
/// </summary>
/// <remarks>
/// The culprit is found only after a failure. First, the row whose image ML.NET's exception names (a missing file's
/// full path, in <see cref="FileNotFoundException.FileName"/> or in the message of a
/// <see cref="DirectoryNotFoundException"/>), so that the message and its inner exception name the same file; ML.NET
/// reads rows ahead on other threads, so that row is not always the cursor's. Otherwise, from the row where it
/// happened (or the first row when the cursor is shuffled or one of a parallel set), the input's image paths are
/// checked in order (missing, then fully decoded with SkiaSharp) until one fails. Nothing is checked while reading
/// succeeds. A missing file's message names the path as written, the full path tried and the image folder
/// (<see cref="ImageLocation.NotFound"/>).
/// </remarks>
internal sealed class ImageErrorNamingDataView : IDataView
{
    private readonly IDataView _output;
    private readonly IDataView _input;
    private readonly string _pathColumn;
    private readonly string? _imageFolder;
    private readonly string _folderSetting;

    /// <param name="output">The pipeline's output.</param>
    /// <param name="input">The pipeline's input, with the image path column.</param>
    /// <param name="pathColumn">The text column of image paths.</param>
    /// <param name="imageFolder">The folder relative paths are read from, or null.</param>
    /// <param name="folderSetting">Where the user sets that folder, for messages (e.g. <c>ImageNetPreprocessing(imageFolder: ...)</c>).</param>
    public ImageErrorNamingDataView(IDataView output, IDataView input, string pathColumn, string? imageFolder, string folderSetting)
    {
        _output = output;
        _input = input;
        _pathColumn = pathColumn;
        _imageFolder = imageFolder;
        _folderSetting = folderSetting;
    }

    public bool CanShuffle => _output.CanShuffle;

    public DataViewSchema Schema => _output.Schema;

    public long? GetRowCount() => _output.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, _output.GetRowCursor(columnsNeeded, rand), inInputOrder: rand is null);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => _output.GetRowCursorSet(columnsNeeded, n, rand).Select(c => (DataViewRowCursor)new Cursor(this, c, inInputOrder: false)).ToArray();

    /// <summary>The exception to throw for <paramref name="error"/>: the original one when no image is to blame.</summary>
    private Exception Explain(Exception error, long firstRow)
    {
        if (!LooksLikeImageFailure(error)) return error;
        var culprit = FindNamedImage(error) ?? FindUnreadableImage(Math.Max(0, firstRow));
        if (culprit is not { } c) return error;
        return new InvalidDataException($"Could not load the image of row {c.Row} (column '{_pathColumn}'): {c.Problem}.", error);
    }

    private static bool LooksLikeImageFailure(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is IOException or ArgumentException or UnauthorizedAccessException) return true;
            if (e is AggregateException a && a.InnerExceptions.Any(LooksLikeImageFailure)) return true;
        }
        return false;
    }

    /// <summary>The row whose missing file <paramref name="error"/> names (by its full path), if one does.</summary>
    private (long Row, string Problem)? FindNamedImage(Exception error)
    {
        var named = NamedPaths(error).ToList();
        if (named.Count == 0) return null;
        var column = _input.Schema[_pathColumn];
        using var cursor = _input.GetRowCursor([column]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
        var value = default(ReadOnlyMemory<char>);
        while (cursor.MoveNext())
        {
            getter(ref value);
            if (value.Span.IsWhiteSpace()) continue;
            var image = Locate(value.ToString());
            var full = image.FullPath;
            if (!named.Any(n => n.Contains(full, StringComparison.Ordinal))) continue;
            var problem = ImageFileCheck.DecodeProblem(image);
            if (problem is not null) return (cursor.Position, problem);
        }
        return null;
    }

    /// <summary>The texts of <paramref name="error"/>'s chain that can name a missing file: a
    /// <see cref="FileNotFoundException"/>'s file name, a <see cref="DirectoryNotFoundException"/>'s message.</summary>
    private static IEnumerable<string> NamedPaths(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is FileNotFoundException { FileName: { Length: > 0 } name }) yield return name;
            else if (e is DirectoryNotFoundException) yield return e.Message;
            if (e is AggregateException a)
                foreach (var text in a.InnerExceptions.SelectMany(NamedPaths)) yield return text;
        }
    }

    private ImageLocation Locate(string path) => new(path, _imageFolder, _folderSetting);

    /// <summary>The first row from <paramref name="start"/> on (then from 0) whose image does not load.</summary>
    private (long Row, string Problem)? FindUnreadableImage(long start)
    {
        var column = _input.Schema[_pathColumn];
        var found = Scan(column, start, long.MaxValue);
        return found ?? (start > 0 ? Scan(column, 0, start) : null);
    }

    private (long Row, string Problem)? Scan(DataViewSchema.Column column, long from, long to)
    {
        using var cursor = _input.GetRowCursor([column]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
        var value = default(ReadOnlyMemory<char>);
        while (cursor.MoveNext() && cursor.Position < to)
        {
            if (cursor.Position < from) continue;
            getter(ref value);
            var path = value.ToString();
            if (string.IsNullOrWhiteSpace(path)) continue;  // ML.NET's LoadImages yields an empty image for an empty path
            var problem = ImageFileCheck.DecodeProblem(Locate(path));
            if (problem is not null) return (cursor.Position, problem);
        }
        return null;
    }

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ImageErrorNamingDataView _parent;
        private readonly DataViewRowCursor _inner;
        private readonly bool _inInputOrder;

        public Cursor(ImageErrorNamingDataView parent, DataViewRowCursor inner, bool inInputOrder)
        {
            _parent = parent;
            _inner = inner;
            _inInputOrder = inInputOrder;
        }

        public override DataViewSchema Schema => _inner.Schema;

        public override long Position => _inner.Position;

        public override long Batch => _inner.Batch;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => _inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            var getter = _inner.GetGetter<TValue>(column);
            return (ref TValue value) =>
            {
                try { getter(ref value); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    var explained = _parent.Explain(e, _inInputOrder ? _inner.Position : 0);
                    if (ReferenceEquals(explained, e)) throw;
                    throw explained;
                }
            };
        }

        public override bool MoveNext()
        {
            try { return _inner.MoveNext(); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var explained = _parent.Explain(e, _inInputOrder ? _inner.Position + 1 : 0);
                if (ReferenceEquals(explained, e)) throw;
                throw explained;
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
