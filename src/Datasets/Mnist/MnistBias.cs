namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// What makes one biased MNIST set (<see cref="PatchedMnist"/>, <see cref="StripedMnist"/>) differ from another: the
/// label a digit gets, the spurious attribute's values, and how an attribute value is drawn onto the grey digit.
/// Attribute value k is the bias-aligned value of class k, so a set has as many attribute values as classes.
/// </summary>
internal abstract class MnistBias
{
    protected MnistBias(IReadOnlyList<string> classNames, IReadOnlyList<string> attributeNames, string attributeColumnName)
    {
        if (classNames.Count < 2 || attributeNames.Count != classNames.Count)
            throw new ArgumentException($"A bias needs at least 2 classes and one attribute value per class; got {classNames.Count} classes and {attributeNames.Count} values.", nameof(attributeNames));
        ClassNames = classNames;
        AttributeNames = attributeNames;
        AttributeColumnName = attributeColumnName;
        GroupNames = [.. Enumerable.Range(0, classNames.Count * attributeNames.Count)
            .Select(g => $"{classNames[g / attributeNames.Count]}/{attributeNames[g % attributeNames.Count]}")];
    }

    /// <summary>Class names by label index (the <c>Label</c> column's KeyValues).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Attribute value names by index (the attribute column's KeyValues).</summary>
    public IReadOnlyList<string> AttributeNames { get; }

    /// <summary>Group names <c>class/attribute</c> by group index <see cref="Group"/>.</summary>
    public IReadOnlyList<string> GroupNames { get; }

    /// <summary>The name of the data view's attribute column.</summary>
    public string AttributeColumnName { get; }

    /// <summary>Number of classes, equal to the number of attribute values.</summary>
    public int ClassCount => ClassNames.Count;

    /// <summary>The label of an MNIST digit, 0 to <see cref="ClassCount"/> − 1.</summary>
    public abstract int Label(int digit);

    /// <summary>The smallest image side the drawing fits in, in pixels.</summary>
    public abstract int MinimumSide { get; }

    /// <summary>Draws attribute value <paramref name="attribute"/> onto <paramref name="image"/>, a grey
    /// <c>[height, width]</c> image on [0, 1] (pixel / 255), in place; the result stays on [0, 1].</summary>
    public abstract void Draw(Span<float> image, int height, int width, int attribute);

    /// <summary>The group index of a (label, attribute) pair: label · <see cref="ClassCount"/> + attribute.</summary>
    public int Group(int label, int attribute) => label * ClassCount + attribute;
}
