using Microsoft.ML;
using MLNet.FlatDebias.Datasets.Waterbirds;
using MLNet.FlatDebias.Transforms;

namespace Microsoft.ML;

/// <summary>Loads the Waterbirds dataset (Sagawa et al. 2020) into ML.NET.</summary>
public static class WaterbirdsCatalog
{
    /// <summary>
    /// Reads a Waterbirds folder (<c>metadata.csv</c> and the images it names) into an <see cref="IDataView"/> of
    /// one row per image, in file order. Every row is checked, and every returned image file is checked to exist
    /// (and, by default, to have a readable image header), before this returns: a bad dataset fails here, naming
    /// the file and its lines, not in the middle of training.
    /// </summary>
    /// <remarks>
    /// <para>Columns (names in <see cref="WaterbirdsColumns"/>, key names in <see cref="WaterbirdsNames"/>):</para>
    /// <list type="table">
    /// <listheader><term>column</term><description>type and content</description></listheader>
    /// <item><term><c>ImagePath</c></term><description>text: the absolute path of the image</description></item>
    /// <item><term><c>Label</c></term><description>key, 2 values <c>landbird</c>, <c>waterbird</c> (key value y + 1)</description></item>
    /// <item><term><c>Place</c></term><description>key, 2 values <c>land</c>, <c>water</c> (key value place + 1)</description></item>
    /// <item><term><c>Group</c></term><description>key, 4 values <c>landbird/land</c>, <c>landbird/water</c>,
    /// <c>waterbird/land</c>, <c>waterbird/water</c> (key value 2·y + place + 1)</description></item>
    /// <item><term><c>Split</c></term><description>text: <c>train</c>, <c>val</c> or <c>test</c></description></item>
    /// <item><term><c>ImageId</c></term><description>Int32: <c>img_id</c></description></item>
    /// </list>
    /// <para><c>metadata.csv</c> has columns <c>img_id, img_filename, y, split, place, place_filename</c> (found by
    /// header name; extra columns are ignored): y 1 = water bird, place 1 = water, split 0/1/2 = train/val/test,
    /// img_filename relative to the folder. This is the layout of <c>waterbird_complete95_forest2water2</c> as
    /// distributed, and of the folders <see cref="MLNet.FlatDebias.Datasets.Mnist.WaterbirdsMnist"/> writes.</para>
    /// <para>Image contents are decoded later, by the image transforms (<see cref="ImageNetPreprocessingCatalog.ImageNetPreprocessing"/>);
    /// a file whose header reads but whose pixels do not is reported there.</para>
    /// </remarks>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="root">The dataset folder holding <c>metadata.csv</c>, or its parent when the dataset folder is the
    /// distributed <c>waterbird_complete95_forest2water2</c>.</param>
    /// <param name="split">Only this split; null (default) for all rows. Rows of other splits are still range-checked.</param>
    /// <param name="validateImages">True (default): check that each image of the returned rows exists and that
    /// SkiaSharp reads its header (well under a millisecond per file; the pixels are not decoded). False: check existence only.</param>
    /// <returns>The rows, with the schema above.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException"><c>metadata.csv</c> does not exist.</exception>
    /// <exception cref="InvalidDataException">A column is missing, a value is out of range, an img_id repeats, or an
    /// image file is missing or unreadable; the message names the file and each offending line and img_id.</exception>
    public static IDataView LoadWaterbirds(this DataOperationsCatalog catalog, string root, WaterbirdsSplit? split = null, bool validateImages = true)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        if (split is { } s && !Enum.IsDefined(s))
            throw new ArgumentOutOfRangeException(nameof(split), s, "split must be Train, Validation, Test or null.");
        var folder = WaterbirdsMetadataFile.ResolveDatasetFolder(root);
        var metadataPath = Path.Combine(folder, WaterbirdsMetadataFile.FileName);
        var rows = WaterbirdsMetadataFile.Read(metadataPath);

        var records = new List<WaterbirdsRecord>();
        var problems = new List<string>();
        foreach (var row in rows)
        {
            if (split is { } wanted && row.Split != wanted) continue;
            var imagePath = Path.GetFullPath(Path.Combine(folder, row.ImageFilename));
            var problem = ImageFileCheck.Problem(new ImageLocation(imagePath, null, "LoadWaterbirds' root"), validateImages);
            if (problem is not null) problems.Add($"{row.Where}: {problem}");
            else records.Add(WaterbirdsRecord.From(row, imagePath));
        }
        WaterbirdsMetadataFile.ThrowIfAny(metadataPath, problems);
        return catalog.LoadFromEnumerable(records, WaterbirdsRecord.Schema());
    }
}
