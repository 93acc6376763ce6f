using Microsoft.ML;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// One split of a biased grey MNIST set (<see cref="PatchedMnist"/>, <see cref="StripedMnist"/>): MNIST digits with a
/// label derived from the digit and a spurious attribute drawn onto the image. Held as the MNIST pixels and one
/// attribute per row; the images are made when read, so a split costs little memory.
/// </summary>
/// <remarks>
/// <para>Columns of <see cref="DataView"/>:</para>
/// <list type="table">
/// <listheader><term>column</term><description>type and content</description></listheader>
/// <item><term><c>Features</c></term><description><c>Vector&lt;Single, 1, 28, 28&gt;</c> (with dimensions), grey on
/// [0, 1]: <c>pixel / 255</c> with the attribute drawn over it</description></item>
/// <item><term><c>Label</c></term><description>key, values named by <see cref="ClassNames"/> (key value label + 1)</description></item>
/// <item><term><see cref="AttributeColumnName"/></term><description>key, values named by <see cref="AttributeNames"/>
/// (key value attribute + 1)</description></item>
/// <item><term><c>Group</c></term><description>key, values named by <see cref="GroupNames"/> (<c>class/attribute</c>),
/// key value label · classes + attribute + 1; all groups are listed whether or not they occur in the split</description></item>
/// </list>
/// </remarks>
public sealed class BiasedMnistSplit
{
    private static readonly MLContext Context = new(seed: 0);
    private readonly MnistBias _bias;
    private readonly byte[,,] _images;
    private readonly int[] _sourceRows;
    private readonly int[] _digits;
    private readonly int[] _labels;
    private readonly int[] _attributes;
    private IDataView? _dataView;

    internal BiasedMnistSplit(MnistBias bias, byte[,,] images, int[] sourceRows, int[] digits, int[] labels, int[] attributes)
    {
        _bias = bias;
        _images = images;
        _sourceRows = sourceRows;
        _digits = digits;
        _labels = labels;
        _attributes = attributes;
    }

    /// <summary>Number of rows.</summary>
    public int Count => _digits.Length;

    /// <summary>Image height in pixels (28).</summary>
    public int Height => _images.GetLength(1);

    /// <summary>Image width in pixels (28).</summary>
    public int Width => _images.GetLength(2);

    /// <summary>Class names by label index, the <c>Label</c> column's KeyValues.</summary>
    public IReadOnlyList<string> ClassNames => _bias.ClassNames;

    /// <summary>Attribute value names by index, the attribute column's KeyValues; value k is class k's bias-aligned value.</summary>
    public IReadOnlyList<string> AttributeNames => _bias.AttributeNames;

    /// <summary>Group names <c>class/attribute</c> by group index, the <c>Group</c> column's KeyValues.</summary>
    public IReadOnlyList<string> GroupNames => _bias.GroupNames;

    /// <summary>The name of the attribute column (<c>Patch</c> or <c>Stripes</c>).</summary>
    public string AttributeColumnName => _bias.AttributeColumnName;

    /// <summary>The MNIST digit of each row, 0 to 9.</summary>
    public IReadOnlyList<int> Digits => _digits;

    /// <summary>The label of each row, 0 to <c>ClassNames.Count</c> − 1, derived from its digit.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <summary>The attribute index of each row, 0 to <c>AttributeNames.Count</c> − 1.</summary>
    public IReadOnlyList<int> Attributes => _attributes;

    /// <summary>The row of the MNIST split (training split for train and validation, test split for test) each row was made from.</summary>
    public IReadOnlyList<int> SourceRows => _sourceRows;

    /// <summary>The group index of row <paramref name="row"/>: label · <c>ClassNames.Count</c> + attribute.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>The group index, 0 to <c>GroupNames.Count</c> − 1.</returns>
    public int Group(int row) => _bias.Group(_labels[row], _attributes[row]);

    /// <summary>Whether row <paramref name="row"/> is bias-conflicting: its attribute is not its label's.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>True when attribute ≠ label.</returns>
    public bool IsConflicting(int row) => _labels[row] != _attributes[row];

    /// <summary>Writes the grey image of row <paramref name="row"/>, <c>[height, width]</c>, into <paramref name="destination"/>.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <param name="destination">At least height·width values.</param>
    public void CopyImage(int row, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);
        int plane = Height * Width;
        if (destination.Length < plane)
            throw new ArgumentException($"destination has {destination.Length} values; an image needs {plane}.", nameof(destination));
        int source = _sourceRows[row];
        for (int y = 0, p = 0; y < Height; y++)
            for (int x = 0; x < Width; x++, p++)
                destination[p] = _images[source, y, x] / 255f;
        _bias.Draw(destination[..plane], Height, Width, _attributes[row]);
    }

    /// <summary>The grey image of row <paramref name="row"/>, <c>[height, width]</c>.</summary>
    /// <param name="row">The row, 0 to <see cref="Count"/> − 1.</param>
    /// <returns>A new array of height·width values on [0, 1].</returns>
    public float[] GetImage(int row)
    {
        var image = new float[Height * Width];
        CopyImage(row, image);
        return image;
    }

    /// <summary>The split as an ML.NET data view (columns in the remarks); images are made as rows are read.</summary>
    public IDataView DataView => _dataView ??= Context.Data.LoadFromEnumerable(
        new LazyRowList<BiasedMnistRow>(Count, MakeRow), BiasedMnistRow.Schema(_bias, Height, Width));

    private BiasedMnistRow MakeRow(int row) => new()
    {
        Features = GetImage(row),
        Label = (uint)_labels[row],
        Attribute = (uint)_attributes[row],
        Group = (uint)Group(row),
    };
}
