namespace MLNet.FlatDebias.Trainers;

/// <summary>The shape of one image as a network sees it: channels, height, width (the layout ExtractPixels writes).</summary>
/// <param name="Channels">Number of channels (1 for grey, 3 for RGB); at least 1.</param>
/// <param name="Height">Height in pixels; at least 1.</param>
/// <param name="Width">Width in pixels; at least 1.</param>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Number of values in one image: <c>Channels * Height * Width</c>.</summary>
    public int Size => checked(Channels * Height * Width);

    /// <summary>Throws when a dimension is not positive.</summary>
    /// <param name="what">What the shape belongs to, for the message (an option or column name).</param>
    /// <exception cref="ArgumentException">A dimension is zero or negative.</exception>
    public void Validate(string what)
    {
        if (Channels < 1 || Height < 1 || Width < 1)
            throw new ArgumentException($"{what}: image shape [{Channels}, {Height}, {Width}] must have positive channels, height and width.", what);
    }

    /// <summary>The shape as <c>[C, H, W]</c>.</summary>
    /// <returns>A readable form such as <c>[3, 224, 224]</c>.</returns>
    public override string ToString() => $"[{Channels}, {Height}, {Width}]";
}
