using SkiaSharp;

namespace MLNet.FlatDebias.Transforms;

/// <summary>Cheap checks that an image file can be loaded, run before training instead of failing in the middle of it.</summary>
internal static class ImageFileCheck
{
    /// <summary>What is wrong with an image file, or null when it passes.</summary>
    /// <param name="path">The image file.</param>
    /// <param name="checkHeader">Also check that SkiaSharp recognises the format and reads the header
    /// (<see cref="SKCodec.Create(string)"/>: the header only, not the pixels).</param>
    public static string? Problem(string path, bool checkHeader)
    {
        if (!File.Exists(path)) return $"image file '{path}' does not exist";
        if (!checkHeader) return null;
        using var codec = SKCodec.Create(path);
        if (codec is null) return $"image file '{path}' is not an image SkiaSharp can decode (unknown format or damaged header)";
        if (codec.Info.Width <= 0 || codec.Info.Height <= 0) return $"image file '{path}' has an empty size {codec.Info.Width}x{codec.Info.Height}";
        return null;
    }

    /// <summary>What is wrong with an image file when it is fully decoded, or null when it decodes.</summary>
    /// <param name="path">The image file.</param>
    public static string? DecodeProblem(string path)
    {
        var problem = Problem(path, checkHeader: true);
        if (problem is not null) return problem;
        using var bitmap = SKBitmap.Decode(path);
        return bitmap is null ? $"image file '{path}' could not be decoded" : null;
    }
}
