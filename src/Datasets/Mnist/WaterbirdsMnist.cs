using MLNet.FlatDebias.Datasets.Waterbirds;
namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Waterbirds made from MNIST, written to disk in exactly Waterbirds' layout (PNG images in per-class folders and a
/// <c>metadata.csv</c> with <c>img_id, img_filename, y, split, place, place_filename</c>), so that
/// <see cref="Microsoft.ML.WaterbirdsCatalog.LoadWaterbirds"/> and <see cref="Microsoft.ML.ImageNetPreprocessingCatalog.ImageNetPreprocessing"/>
/// read it as they read the real dataset.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Label y: digits 0-4 are "land birds" (y = 0), digits 5-9 "water birds" (y = 1).</item>
/// <item>Place: the background, a textured land (greens and browns, mottled) or water (blues, wave stripes)
/// pattern whose colour and texture vary per image (see the painter); the digit is drawn over it in light grey.</item>
/// <item>Group counts: Waterbirds' own divided by <c>scaleDivisor</c> and rounded (half away from zero), group by
/// group: train 3498 / 184 / 56 / 1057 (landbird/land, landbird/water, waterbird/land, waterbird/water; place
/// matches the label in 95 % of the rows), validation 467 / 466 / 133 / 133 and test 2255 / 2255 / 642 / 642 (place
/// balanced within each class, to ±1). With <c>scaleDivisor</c> 10: 480 / 120 / 580 rows.</item>
/// <item>Sources: train and validation digits from disjoint rows of the MNIST training split, test digits from
/// the MNIST test split. <c>place_filename</c> names the (synthetic) background as
/// <c>/f/forest/broadleaf/texture_{img_id}</c> or <c>/o/ocean/texture_{img_id}</c>; no such file exists.</item>
/// <item>Deterministic: the same MNIST, arguments and seed give byte-identical files.</item>
/// </list>
/// </remarks>
public static class WaterbirdsMnist
{
    /// <summary>Waterbirds' training group counts (landbird/land, landbird/water, waterbird/land, waterbird/water): 3498, 184, 56, 1057.</summary>
    public static IReadOnlyList<int> WaterbirdsTrainGroupCounts { get; } = [3498, 184, 56, 1057];

    /// <summary>Waterbirds' validation group counts: 467, 466, 133, 133.</summary>
    public static IReadOnlyList<int> WaterbirdsValidationGroupCounts { get; } = [467, 466, 133, 133];

    /// <summary>Waterbirds' test group counts: 2255, 2255, 642, 642.</summary>
    public static IReadOnlyList<int> WaterbirdsTestGroupCounts { get; } = [2255, 2255, 642, 642];

    /// <summary>Default image side in pixels: 64.</summary>
    public const int DefaultImageSize = 64;

    /// <summary>Default divisor of Waterbirds' group counts: 10 (480 / 120 / 580 rows).</summary>
    public const int DefaultScaleDivisor = 10;

    /// <summary>Largest accepted scale divisor: 100 (every training group keeps at least one image).</summary>
    public const int MaximumScaleDivisor = 100;

    /// <summary>The group counts of a split at a scale divisor: Waterbirds' counts / divisor, rounded half away from zero.</summary>
    /// <param name="scaleDivisor">1 (Waterbirds' own sizes) to 100.</param>
    /// <param name="split">The split.</param>
    /// <returns>Counts by group index 2·y + place.</returns>
    public static int[] GroupCounts(int scaleDivisor, WaterbirdsSplit split)
    {
        CheckDivisor(scaleDivisor);
        var original = split switch
        {
            WaterbirdsSplit.Train => WaterbirdsTrainGroupCounts,
            WaterbirdsSplit.Validation => WaterbirdsValidationGroupCounts,
            WaterbirdsSplit.Test => WaterbirdsTestGroupCounts,
            _ => throw new ArgumentOutOfRangeException(nameof(split), split, "split must be Train, Validation or Test."),
        };
        return [.. original.Select(n => (int)Math.Round((double)n / scaleDivisor, MidpointRounding.AwayFromZero))];
    }

    /// <summary>
    /// Writes the dataset into <paramref name="folder"/>, unless it already holds a complete set written with the same
    /// arguments from the same MNIST (checked through a small manifest file). The files are written into a temporary
    /// sibling folder that is then renamed, so a folder is never seen half-written.
    /// </summary>
    /// <param name="folder">The dataset folder (the <c>root</c> to pass to <c>LoadWaterbirds</c>). Must be new, empty, or
    /// a folder this method wrote before (which is then replaced).</param>
    /// <param name="mnist">MNIST (<see cref="MnistDataset.Load(string?)"/>).</param>
    /// <param name="scaleDivisor">Divides Waterbirds' group counts, 1 to 100 (default 10: 480 / 120 / 580 rows).</param>
    /// <param name="seed">Seed for the choice of digits, places, textures and positions (default 0).</param>
    /// <param name="imageSize">Image side in pixels, 16 to 512 (default 64).</param>
    /// <returns>The full path of the folder.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range, or MNIST has too few digits of a class.</exception>
    /// <exception cref="IOException"><paramref name="folder"/> exists, is not empty and was not written by this method.</exception>
    public static string Write(string folder, MnistDataset mnist, int scaleDivisor = DefaultScaleDivisor, int seed = 0, int imageSize = DefaultImageSize)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(mnist);
        CheckDivisor(scaleDivisor);
        if (imageSize is < 16 or > 512) throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "imageSize must be in [16, 512] pixels.");
        folder = Path.GetFullPath(folder);

        var plan = WaterbirdsMnistPlan.Make(mnist, scaleDivisor, seed);
        var manifest = new WaterbirdsMnistManifest(WaterbirdsMnistManifest.CurrentFormat, scaleDivisor, seed, imageSize,
            mnist.TrainLabels.Length, mnist.TestLabels.Length, WaterbirdsMnistManifest.Fingerprint(mnist), plan.Count);
        if (IsComplete(folder, manifest)) return folder;
        ThrowIfForeign(folder);

        var partial = Path.Combine(Path.GetDirectoryName(folder)!, $".{Path.GetFileName(folder)}.partial-{Guid.NewGuid():N}");
        try
        {
            WriteFiles(partial, mnist, plan, seed, imageSize);
            manifest.Write(partial);
            Replace(folder, partial, manifest);
        }
        finally
        {
            if (Directory.Exists(partial)) Directory.Delete(partial, recursive: true);
        }
        return folder;
    }

    private static void WriteFiles(string partial, MnistDataset mnist, IReadOnlyList<WaterbirdsMnistPlan.Image> plan, int seed, int imageSize)
    {
        Directory.CreateDirectory(partial);
        foreach (var dir in plan.Select(p => Path.GetDirectoryName(p.Row.ImageFilename)!).Distinct())
            Directory.CreateDirectory(Path.Combine(partial, dir));
        Parallel.ForEach(plan, image =>
        {
            // One generator per image, seeded from (seed, img_id): the same pixels whatever the thread order.
            var random = new Random(unchecked((int)((uint)seed * 2654435761u ^ (uint)image.Row.ImageId * 40503u)));
            var digits = image.FromTestSplit ? mnist.TestImages : mnist.TrainImages;
            var rgba = WaterbirdsMnistPainter.Paint(digits, image.SourceRow, image.Row.Place, imageSize, random);
            WaterbirdsMnistPainter.SavePng(rgba, imageSize, Path.Combine(partial, image.Row.ImageFilename));
        });
        WaterbirdsMetadataFile.Write(Path.Combine(partial, WaterbirdsMetadataFile.FileName), plan.Select(p => p.Row));
    }

    /// <summary>Puts the written folder in place of <paramref name="folder"/>; if another process finished the same set
    /// first, keeps that one.</summary>
    private static void Replace(string folder, string partial, WaterbirdsMnistManifest manifest)
    {
        if (Directory.Exists(folder))
        {
            if (IsComplete(folder, manifest)) return;
            ThrowIfForeign(folder);
            Directory.Delete(folder, recursive: true);
        }
        try { Directory.Move(partial, folder); }
        catch (IOException) when (IsComplete(folder, manifest)) { }
    }

    /// <summary>True when the folder has the same manifest, its metadata and every image it names.</summary>
    private static bool IsComplete(string folder, WaterbirdsMnistManifest manifest)
    {
        if (WaterbirdsMnistManifest.TryRead(folder) != manifest) return false;
        var metadata = Path.Combine(folder, WaterbirdsMetadataFile.FileName);
        if (!File.Exists(metadata)) return false;
        try
        {
            var rows = WaterbirdsMetadataFile.Read(metadata);
            return rows.Count == manifest.Images && rows.All(r => File.Exists(Path.Combine(folder, r.ImageFilename)));
        }
        catch (InvalidDataException) { return false; }
    }

    private static void ThrowIfForeign(string folder)
    {
        if (!Directory.Exists(folder) || !Directory.EnumerateFileSystemEntries(folder).Any()) return;
        if (File.Exists(Path.Combine(folder, WaterbirdsMnistManifest.FileName))) return;
        throw new IOException($"Folder '{folder}' is not empty and was not written by {nameof(WaterbirdsMnist)}.{nameof(Write)} (it has no {WaterbirdsMnistManifest.FileName}); pass a new or empty folder.");
    }

    private static void CheckDivisor(int scaleDivisor)
    {
        if (scaleDivisor is < 1 or > MaximumScaleDivisor)
            throw new ArgumentOutOfRangeException(nameof(scaleDivisor), scaleDivisor, $"scaleDivisor must be in [1, {MaximumScaleDivisor}] (1 = Waterbirds' own sizes).");
    }
}
