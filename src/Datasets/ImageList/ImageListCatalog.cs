using MLNet.FlatDebias.Datasets.ImageList;
using MLNet.FlatDebias.Transforms;

namespace Microsoft.ML;

/// <summary>Loads your own images into ML.NET from a CSV that lists them: <c>mlContext.Data.LoadImageList</c>.</summary>
public static class ImageListCatalog
{
    /// <summary>Where a user sets the folder relative paths are read from, for messages.</summary>
    private const string FolderSetting = "LoadImageList(csvPath, imageFolder: ...); by default the CSV's folder";

    /// <summary>
    /// Reads a CSV that lists image files (e.g. <c>path,label,group,split</c>, one row per image) into an
    /// <see cref="IDataView"/> of one row per image, in file order. Every row is checked, and every returned image file
    /// is checked to exist (and, by default, to have a readable image header), before this returns: a bad list fails
    /// here, naming the CSV, the line, the path as written, the full path tried and the image folder.
    /// </summary>
    /// <remarks>
    /// <para>The header names the columns (compared ignoring case; other columns are ignored): the image path
    /// <c>path</c>, <c>ImagePath</c> or <c>image</c>; the label <c>label</c>; optionally <c>group</c> and <c>split</c>.
    /// Relative paths are read from <paramref name="imageFolder"/>, by default the CSV's folder, so a CSV beside its class
    /// folders (<c>cat/cat_01.png</c>) works from any working directory.</para>
    /// <para>Columns (names in <see cref="ImageListColumns"/>):</para>
    /// <list type="table">
    /// <listheader><term>column</term><description>type and content</description></listheader>
    /// <item><term><c>ImagePath</c></term><description>text: the image's <b>full path</b> (the path as written, resolved
    /// against the image folder), so <c>ImageNetPreprocessing()</c>, <c>FeatureFileKey.DescribeDataset</c> and the saved
    /// chain need no image folder. A chain saved from these rows therefore keeps no folder: a scoring program passes full
    /// paths, or sets a folder with <c>mlContext.Model.LoadWithImageFolder</c> and passes paths relative to it.</description></item>
    /// <item><term><c>Label</c></term><description>text, as written. The trainers take a key label: map it first with
    /// <c>mlContext.Transforms.Conversion.MapValueToKey("Label")</c>, fitted on all rows, outside the chain you save
    /// (or the saved chain asks for a label at scoring time).</description></item>
    /// <item><term><c>Group</c></term><description>text, as written; only when the CSV has a group column. The trainers'
    /// <c>GroupColumnName</c> and <c>EvaluateGroups</c> take text groups as they are.</description></item>
    /// <item><term><c>Split</c></term><description>text, as written; only when the CSV has a split column.</description></item>
    /// </list>
    /// </remarks>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="csvPath">The CSV file (RFC 4180: fields with commas in double quotes).</param>
    /// <param name="imageFolder">The folder relative paths are relative to; null (default) for the CSV's folder. Absolute
    /// paths in the CSV are read as they are.</param>
    /// <param name="split">Only the rows whose split equals this value (ignoring case), e.g. <c>train</c>; null (default)
    /// for every row. Needs a split column.</param>
    /// <param name="validateImages">True (default): check that each returned image exists and that SkiaSharp reads its
    /// header (the pixels are not decoded). False: check existence only.</param>
    /// <returns>The rows, with the columns above.</returns>
    /// <exception cref="FileNotFoundException"><paramref name="csvPath"/> does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="imageFolder"/> does not exist.</exception>
    /// <exception cref="ArgumentException"><paramref name="split"/> is given but the CSV has no split column.</exception>
    /// <exception cref="InvalidDataException">A column is missing from the header, a row is malformed or has an empty
    /// path, label or group, no row has the split asked for, or an image file is missing or unreadable; the message
    /// names the CSV and each offending line (for a missing image: the path as written, the full path tried and the
    /// image folder).</exception>
    public static IDataView LoadImageList(this DataOperationsCatalog catalog, string csvPath, string? imageFolder = null, string? split = null,
        bool validateImages = true)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(csvPath);
        var csv = Path.GetFullPath(csvPath);
        if (!File.Exists(csv)) throw new FileNotFoundException($"Image list '{csvPath}' does not exist (looked for '{csv}').", csv);
        var folder = Path.GetFullPath(string.IsNullOrWhiteSpace(imageFolder) ? Path.GetDirectoryName(csv)! : imageFolder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"imageFolder '{imageFolder}' of image list '{csv}' does not exist (looked for '{folder}').");
        var (rows, hasGroup, hasSplit) = ImageListFile.Read(csv);
        if (split is not null && !hasSplit)
            throw new ArgumentException($"split '{split}' was asked for, but image list '{csv}' has no split column (header name: split).", nameof(split));

        var records = new List<ImageListRecord>();
        var problems = new List<string>();
        foreach (var row in rows)
        {
            if (split is not null && !string.Equals(row.Split, split, StringComparison.OrdinalIgnoreCase)) continue;
            var image = new ImageLocation(row.Path, folder, FolderSetting);
            var problem = ImageFileCheck.Problem(image, validateImages);
            if (problem is not null) problems.Add($"line {row.LineNumber}: {problem}");
            else records.Add(new ImageListRecord { ImagePath = image.FullPath, Label = row.Label, Group = row.Group ?? "", Split = row.Split ?? "" });
        }
        CsvProblems.ThrowIfAny(ImageListFile.Kind, csv, problems);
        if (records.Count == 0)
        {
            var found = rows.Select(r => r.Split).Distinct(StringComparer.OrdinalIgnoreCase).Select(s => $"'{s}'");
            throw new InvalidDataException($"Image list '{csv}' has no row of split '{split}'; its splits are {string.Join(", ", found)}.");
        }
        return catalog.LoadFromEnumerable(records, ImageListRecord.Schema(hasGroup, hasSplit));
    }
}
