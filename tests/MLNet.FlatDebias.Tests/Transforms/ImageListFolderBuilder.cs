using SkiaSharp;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary>Writes a user's photo folder as the "own photos" recipe expects it: a folder per class and an
/// <c>images.csv</c> (<c>path,label,group,split</c>) whose paths are relative to the CSV's folder.</summary>
internal static class ImageListFolderBuilder
{
    public const string CsvName = "images.csv";

    public const string Header = "path,label,group,split";

    /// <summary>Two classes (<c>cat</c>, <c>dog</c>) x two backgrounds (<c>indoor</c>, <c>outdoor</c>) x three splits
    /// (<c>train</c>, <c>val</c>, <c>test</c>), <paramref name="perGroup"/> solid-colour PNGs of <paramref name="size"/>
    /// pixels each; returns the rows as written in the CSV.</summary>
    public static List<(string Path, string Label, string Group, string Split)> Write(string folder, int perGroup = 1, int size = 16)
    {
        var rows = new List<(string, string, string, string)>();
        string[] labels = ["cat", "dog"], places = ["indoor", "outdoor"], splits = ["train", "val", "test"];
        int id = 1;
        foreach (var split in splits)
            for (int l = 0; l < 2; l++)
                for (int p = 0; p < 2; p++)
                    for (int k = 0; k < perGroup; k++, id++)
                    {
                        var path = $"{labels[l]}/{labels[l]}_{id:0000}.png";
                        var color = new SKColor((byte)(100 * l + 50), (byte)(100 * p + 30), (byte)(id * 11 % 256));
                        WaterbirdsFolderBuilder.WritePng(System.IO.Path.Combine(folder, path), size, size, (_, _) => color);
                        rows.Add((path, labels[l], $"{labels[l]}/{places[p]}", split));
                    }
        File.WriteAllLines(System.IO.Path.Combine(folder, CsvName), [Header, .. rows.Select(r => $"{r.Item1},{r.Item2},{r.Item3},{r.Item4}")]);
        return rows;
    }

    /// <summary>Overwrites an image with another picture of the same size (a diagonal of two colours).</summary>
    public static void Overwrite(string file, int size)
        => WaterbirdsFolderBuilder.WritePng(file, size, size, (x, y) => x > y ? SKColors.Magenta : SKColors.Yellow);
}
