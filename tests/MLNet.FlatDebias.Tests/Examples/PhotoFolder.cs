using MLNet.FlatDebias.Examples.OwnPhotos;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>A small photo folder as a user keeps one (a folder per class, <c>images.csv</c> of relative paths), drawn by
/// the own-photos example: for tests whose files may name no other MLNet.FlatDebias namespace.</summary>
internal static class PhotoFolder
{
    /// <summary>24 pictures (circle / square on sky / grass, 8 per split) under <paramref name="folder"/>; returns the
    /// CSV's full path.</summary>
    public static string Write(string folder) => DemoPhotos.Write(folder, quick: true);
}
