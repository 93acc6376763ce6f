using Microsoft.ML;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// One split of Coloured MNIST: MNIST digits whose ink is drawn in one of 10 colours. Held as the MNIST pixels
/// and one colour per row; the RGB images are made when read, so a split costs little memory.
/// </summary>
/// <remarks>
/// <para>Columns of <see cref="DataView"/>:</para>
/// <list type="table">
/// <listheader><term>column</term><description>type and content</description></listheader>
/// <item><term><c>Features</c></term><description><c>Vector&lt;Single, 3, 28, 28&gt;</c> (with dimensions), planar RGB
/// on [0, 1]: <c>pixel / 255 · colour[c]</c>, black background</description></item>
/// <item><term><c>Label</c></term><description>key, 10 values <c>0</c> … <c>9</c> (key value digit + 1)</description></item>
/// <item><term><c>Color</c></term><description>key, 10 values named by <see cref="ColoredMnistPalette.Names"/> (key value colour + 1)</description></item>
/// <item><term><c>Group</c></term><description>key, 100 values <c>digit/colour</c> such as <c>3/green</c>, key value
/// 10·digit + colour + 1; all 100 are listed whether or not they occur in the split</description></item>
/// </list>
/// </remarks>
public sealed class ColoredMnistSplit
{
    private static readonly MLContext Context = new(seed: 0);
    private readonly byte[,,] _images;
    private readonly int[] _sourceRows;
    private readonly int[] _digits;
    private readonly int[] _colors;
    private readonly float[] _rgb;
    private IDataView? _dataView;

    internal ColoredMnistSplit(byte[,,] images, int[] sourceRows, int[] digits, int[] colors, float[] rgb)
    {
        _images = images;
        _sourceRows = sourceRows;
        _digits = digits;
        _colors = colors;
        _rgb = rgb;
    }

    /// <summary>Number of rows.</summary>
    public int Count => _digits.Length;

    /// <summary>Image height in pixels (28).</summary>
    public int Height => _images.GetLength(1);

    /// <summary>Image width in pixels (28).</summary>
    public int Width => _images.GetLength(2);

    /// <summary>The digit (label) of each row, 0 to 9.</summary>
    public IReadOnlyList<int> Digits => _digits;

    /// <summary>The colour index of each row, 0 to 9 (<see cref="ColoredMnistPalette"/>).</summary>
    public IReadOnlyList<int> Colors => _colors;

    /// <summary>The row of the MNIST split (training split for train and validation, test split for test) each row was made from.</summary>
    public IReadOnlyList<int> SourceRows => _sourceRows;

    /// <summary>The group index of row <paramref name="row"/>: 10·digit + colour.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>The group index, 0 to 99.</returns>
    public int Group(int row) => 10 * _digits[row] + _colors[row];

    /// <summary>Whether row <paramref name="row"/> is bias-conflicting: its colour is not its digit's.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>True when colour ≠ digit.</returns>
    public bool IsConflicting(int row) => _digits[row] != _colors[row];

    /// <summary>The exact foreground colour of row <paramref name="row"/> (the palette colour plus its jitter).</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>Red, green and blue on [0, 1].</returns>
    public (float R, float G, float B) ColorOf(int row) => (_rgb[3 * row], _rgb[3 * row + 1], _rgb[3 * row + 2]);

    /// <summary>Writes the RGB image of row <paramref name="row"/>, planar <c>[3, height, width]</c>, into <paramref name="destination"/>.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <param name="destination">At least 3·height·width values.</param>
    public void CopyImage(int row, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);
        int plane = Height * Width;
        if (destination.Length < 3 * plane)
            throw new ArgumentException($"destination has {destination.Length} values; an image needs {3 * plane}.", nameof(destination));
        int source = _sourceRows[row];
        for (int c = 0; c < 3; c++)
        {
            float color = _rgb[3 * row + c];
            var channel = destination.Slice(c * plane, plane);
            for (int y = 0, p = 0; y < Height; y++)
                for (int x = 0; x < Width; x++, p++)
                    channel[p] = _images[source, y, x] / 255f * color;
        }
    }

    /// <summary>The RGB image of row <paramref name="row"/>, planar <c>[3, height, width]</c>.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>A new array of 3·height·width values on [0, 1].</returns>
    public float[] GetImage(int row)
    {
        var image = new float[3 * Height * Width];
        CopyImage(row, image);
        return image;
    }

    /// <summary>The split as an ML.NET data view (columns in the remarks); images are made as rows are read.</summary>
    public IDataView DataView => _dataView ??= Context.Data.LoadFromEnumerable(
        new LazyRowList<ColoredMnistRow>(Count, MakeRow), ColoredMnistRow.Schema(Height, Width));

    private ColoredMnistRow MakeRow(int row) => new()
    {
        Features = GetImage(row),
        Label = (uint)_digits[row],
        Color = (uint)_colors[row],
        Group = (uint)Group(row),
    };
}
