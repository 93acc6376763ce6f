using SkiaSharp;

namespace MLNet.FlatDebias.Transforms;

/// <summary>Cheap checks that an image file can be loaded, run before training instead of failing in the middle of it.
/// Every message names the file as written and the full path it was read from (<see cref="ImageLocation"/>); a missing
/// file's message also names the image folder and where to set it.</summary>
internal static class ImageFileCheck
{
    /// <summary>What is wrong with an image file, or null when it passes.</summary>
    /// <param name="image">The file, as written and where it is read from.</param>
    /// <param name="checkHeader">Also check that SkiaSharp recognises the format and reads the header
    /// (<see cref="SKCodec.Create(string)"/>: the header only, not the pixels).</param>
    public static string? Problem(ImageLocation image, bool checkHeader)
    {
        var path = image.FullPath;
        if (!File.Exists(path)) return image.NotFound();
        if (!checkHeader) return null;
        using var codec = SKCodec.Create(path);
        if (codec is null) return $"image file {image.Describe()} is not an image SkiaSharp can decode (unknown format or damaged header)";
        if (codec.Info.Width <= 0 || codec.Info.Height <= 0) return $"image file {image.Describe()} has an empty size {codec.Info.Width}x{codec.Info.Height}";
        return null;
    }

    /// <summary>What is wrong with an image file when it is fully decoded, or null when it decodes.</summary>
    /// <param name="image">The file, as written and where it is read from.</param>
    public static string? DecodeProblem(ImageLocation image)
    {
        var problem = Problem(image, checkHeader: true);
        if (problem is not null) return problem;
        using var bitmap = SKBitmap.Decode(image.FullPath);
        return bitmap is null ? $"image file {image.Describe()} could not be decoded" : null;
    }
}
