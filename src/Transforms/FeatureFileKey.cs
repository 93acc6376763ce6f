using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// What a <see cref="FeatureFile"/> was made from: the data set, the preprocessing and the backbone. A file is reused
/// only when all three are equal to the ones asked for; otherwise it is stale and made again.
/// </summary>
/// <param name="Dataset">The rows and image files (e.g. <see cref="DescribeDataset"/>).</param>
/// <param name="Preprocessing">How pixels are made from the files (e.g. <see cref="ImageNetPreprocessingTransformer.Description"/>).</param>
/// <param name="Backbone">The network that makes the features (e.g. <see cref="PretrainedFeaturesTransformer.BackboneFingerprint"/>).</param>
public sealed record FeatureFileKey(string Dataset, string Preprocessing, string Backbone)
{
    /// <summary>
    /// A fingerprint of a data view of image rows: its row count and a SHA-256 over every column's values (ML.NET's
    /// text form of the view, key columns by their values) and, for each row, the image file's size and last write
    /// time. A changed label, group, split or image file gives another fingerprint. Every image file must be found:
    /// a fingerprint that cannot see the files would let a changed image reuse old features, so a missing file throws.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="data">The rows before preprocessing (e.g. <c>LoadImageList</c>'s or <c>LoadWaterbirds</c>'s output).</param>
    /// <param name="imagePathColumnName">The text column of image paths (default <c>ImagePath</c>).</param>
    /// <param name="imageFolder">Folder relative paths are resolved against, as given to <c>ImageNetPreprocessing</c>;
    /// null (default) for paths as given (relative ones against the current directory). Leave it null for
    /// <c>LoadImageList</c>'s and <c>LoadWaterbirds</c>' rows, whose paths are full.</param>
    /// <returns><c>rows N, sha256 ...</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The image path column is missing or not text (ML.NET's wording).</exception>
    /// <exception cref="FileNotFoundException">An image file is not found; the message names the path as written, the
    /// full path tried, the row and <paramref name="imageFolder"/>. (An empty path is no file and is fingerprinted as
    /// empty, as <c>LoadImages</c> gives it an empty image.)</exception>
    public static string DescribeDataset(MLContext mlContext, IDataView data, string imagePathColumnName = "ImagePath", string? imageFolder = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentNullException.ThrowIfNull(data);
        ImageNetPreprocessingEstimator.CheckImagePathColumn(data.Schema, imagePathColumnName);
        var column = data.Schema[imagePathColumnName];

        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var text = new MemoryStream())
        {
            mlContext.Data.SaveAsText(data, text, separatorChar: '\t', headerRow: true, schema: true, keepHidden: false);
            sha.AppendData(text.GetBuffer(), 0, checked((int)text.Length));
        }
        long rows = 0;
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
        var value = default(ReadOnlyMemory<char>);
        while (cursor.MoveNext())
        {
            getter(ref value);
            sha.AppendData(Encoding.UTF8.GetBytes(Stamp(value.ToString(), imageFolder, imagePathColumnName, rows)));
            rows++;
        }
        return string.Create(CultureInfo.InvariantCulture, $"rows {rows}, sha256 {Convert.ToHexStringLower(sha.GetHashAndReset())}");
    }

    /// <summary>Where the user sets the folder <see cref="DescribeDataset"/> reads relative paths from, for messages.</summary>
    private const string FolderSetting = "FeatureFileKey.DescribeDataset(mlContext, data, imageFolder: ...), the same folder as ImageNetPreprocessing's";

    /// <summary>One row's file stamp: size and last write time.</summary>
    /// <exception cref="FileNotFoundException">The file is not found.</exception>
    private static string Stamp(string path, string? imageFolder, string column, long row)
    {
        if (string.IsNullOrWhiteSpace(path)) return "empty\n";
        var image = new ImageLocation(path, imageFolder, FolderSetting);
        var file = new FileInfo(image.FullPath);
        if (!file.Exists)
        {
            throw new FileNotFoundException(string.Create(CultureInfo.InvariantCulture,
                $"Cannot fingerprint the data set for a feature file: row {row} (column '{column}'): {image.NotFound()}."), image.FullPath);
        }
        return string.Create(CultureInfo.InvariantCulture, $"{file.Length}:{file.LastWriteTimeUtc.Ticks}\n");
    }

    /// <summary>The parts in which <paramref name="other"/> differs from this key, each as <c>part: was ..., now ...</c>.</summary>
    /// <param name="other">The key of an existing file.</param>
    /// <returns>The differences; empty when the keys are equal.</returns>
    public IReadOnlyList<string> Differences(FeatureFileKey other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var list = new List<string>();
        if (other.Dataset != Dataset) list.Add($"dataset: the file has '{other.Dataset}', asked for '{Dataset}'");
        if (other.Preprocessing != Preprocessing) list.Add($"preprocessing: the file has '{other.Preprocessing}', asked for '{Preprocessing}'");
        if (other.Backbone != Backbone) list.Add($"backbone: the file has '{other.Backbone}', asked for '{Backbone}'");
        return list;
    }
}
