using System.Runtime.InteropServices;
using SkiaSharp;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary>Writes a small Waterbirds-format folder: PNG images and a metadata.csv, built in code.</summary>
internal static class WaterbirdsFolderBuilder
{
    public const string Header = "img_id,img_filename,y,split,place,place_filename";

    /// <summary>One row per (split, group, copy): 3 splits × 4 groups × <paramref name="perGroup"/> images of
    /// <paramref name="size"/> pixels; returns the rows as (id, filename, y, split, place).</summary>
    public static List<(int Id, string File, int Y, int Split, int Place)> Write(string root, int perGroup = 2, int size = 16)
    {
        var rows = new List<(int, string, int, int, int)>();
        int id = 1;
        for (int split = 0; split < 3; split++)
            for (int g = 0; g < 4; g++)
                for (int k = 0; k < perGroup; k++, id++)
                {
                    int y = g / 2, place = g % 2;
                    var file = $"{(y == 0 ? "001.Land_bird" : "002.Water_bird")}/bird_{id:0000}.png";
                    var color = new SKColor((byte)(40 * g + 10), (byte)(20 * split + 5), (byte)(id * 7 % 256));
                    WritePng(Path.Combine(root, file), size, size, (_, _) => color);
                    rows.Add((id, file, y, split, place));
                }
        WriteMetadata(root, rows.Select(r => $"{r.Item1},{r.Item2},{r.Item3},{r.Item4},{r.Item5},/x/place/{r.Item1}.jpg"));
        return rows;
    }

    public static void WriteMetadata(string root, IEnumerable<string> lines, string header = Header)
        => File.WriteAllLines(Path.Combine(root, "metadata.csv"), [header, .. lines]);

    /// <summary>An opaque RGBA PNG whose pixel (x, y) is <paramref name="pixel"/>(x, y).</summary>
    public static void WritePng(string path, int width, int height, Func<int, int, SKColor> pixel, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var bytes = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                var c = pixel(x, y);
                int p = 4 * (y * width + x);
                (bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]) = (c.Red, c.Green, c.Blue, 255);
            }
        Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        using var data = bitmap.Encode(format, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
