using System.Globalization;
using SkiaSharp;

namespace MLNet.FlatDebias.Examples.OwnPhotos;

/// <summary>
/// Draws a small photo folder laid out as the recipe expects a user's own: a folder per class (<c>circle/</c>,
/// <c>square/</c>) of PNG pictures, and <c>images.csv</c> (<c>path,label,group,split</c>) with paths relative to it.
/// The group is the background (<c>sky</c> or <c>grass</c>); in the training split circles are mostly on sky and squares
/// mostly on grass, a spurious correlation, while validation and test have every group equally often.
/// </summary>
public static class DemoPhotos
{
    /// <summary>The CSV's name in the folder.</summary>
    public const string CsvName = "images.csv";

    /// <summary>Side of every picture, in pixels.</summary>
    public const int Size = 64;

    private static readonly string[] Labels = ["circle", "square"];
    private static readonly string[] Backgrounds = ["sky", "grass"];

    /// <summary>Training pictures per (label, background), the majority groups first: circle/sky, circle/grass,
    /// square/sky, square/grass.</summary>
    private static int[] TrainCounts(bool quick) => quick ? [3, 1, 1, 3] : [18, 2, 2, 18];

    /// <summary>Validation and test pictures per group.</summary>
    private static int HeldOutPerGroup(bool quick) => quick ? 2 : 6;

    /// <summary>Writes the folder (replacing pictures of the same names) and returns the CSV's path.</summary>
    /// <param name="folder">The folder; created.</param>
    /// <param name="quick">24 pictures (8 per split) instead of 88.</param>
    /// <param name="seed">Seed of the shapes' positions, sizes and colours.</param>
    /// <returns>The full path of <c>images.csv</c>.</returns>
    public static string Write(string folder, bool quick, int seed = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        var random = new Random(seed);
        var lines = new List<string> { "path,label,group,split" };
        int id = 1;
        foreach (var split in new[] { "train", "val", "test" })
        {
            for (int l = 0; l < 2; l++)
                for (int b = 0; b < 2; b++)
                {
                    int count = split == "train" ? TrainCounts(quick)[2 * l + b] : HeldOutPerGroup(quick);
                    for (int k = 0; k < count; k++, id++)
                    {
                        var path = string.Create(CultureInfo.InvariantCulture, $"{Labels[l]}/{Labels[l]}_{id:0000}.png");
                        Draw(Path.Combine(folder, path), circle: l == 0, sky: b == 0, random);
                        lines.Add($"{path},{Labels[l]},{Labels[l]}/{Backgrounds[b]},{split}");
                    }
                }
        }
        var csv = Path.GetFullPath(Path.Combine(folder, CsvName));
        File.WriteAllLines(csv, lines);
        return csv;
    }

    /// <summary>One picture: a light shape of random size, position and tint on a sky or grass background.</summary>
    /// <param name="path">The PNG file; its folder is created.</param>
    /// <param name="circle">A circle, else a square.</param>
    /// <param name="sky">A blue background, else a green one.</param>
    /// <param name="random">The source of the variations.</param>
    public static void Draw(string path, bool circle, bool sky, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        byte Jitter(int value) => (byte)Math.Clamp(value + random.Next(-25, 26), 0, 255);
        var background = sky ? new SKColor(Jitter(90), Jitter(150), Jitter(225)) : new SKColor(Jitter(70), Jitter(160), Jitter(60));
        var shape = new SKColor(Jitter(235), Jitter(225), Jitter(120));
        float radius = Size * (0.18f + 0.14f * (float)random.NextDouble());
        float cx = radius + (float)random.NextDouble() * (Size - 2 * radius), cy = radius + (float)random.NextDouble() * (Size - 2 * radius);
        // Each pixel by its centre: inside the circle or square, the shape's colour.
        using var bitmap = new SKBitmap(new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Premul));
        for (int y = 0; y < Size; y++)
            for (int x = 0; x < Size; x++)
            {
                float dx = x + 0.5f - cx, dy = y + 0.5f - cy;
                bool inside = circle ? dx * dx + dy * dy <= radius * radius : Math.Abs(dx) <= radius && Math.Abs(dy) <= radius;
                bitmap.SetPixel(x, y, inside ? shape : background);
            }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
