namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// The 10 fixed foreground colours of <see cref="ColoredMnist"/>: colour k is the bias-aligned colour of digit k.
/// Hues spread around the colour wheel plus white and grey, so that every pair is far apart in RGB.
/// (LfF ships its own 10 colours as a binary tensor file; these play the same role.)
/// </summary>
public static class ColoredMnistPalette
{
    /// <summary>Colour names by colour index 0 to 9, as in the <c>Color</c> column's KeyValues.</summary>
    public static IReadOnlyList<string> Names { get; } = ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta", "white", "grey"];

    /// <summary>Red, green and blue on [0, 1] by colour index 0 to 9.</summary>
    public static IReadOnlyList<(float R, float G, float B)> Rgb { get; } =
    [
        (1.0f, 0.0f, 0.0f), (1.0f, 0.5f, 0.0f), (1.0f, 1.0f, 0.0f), (0.0f, 0.8f, 0.0f), (0.0f, 1.0f, 1.0f),
        (0.0f, 0.25f, 1.0f), (0.5f, 0.0f, 1.0f), (1.0f, 0.0f, 1.0f), (1.0f, 1.0f, 1.0f), (0.5f, 0.5f, 0.5f),
    ];
}
