using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// Extracted features kept in a file so that a later run does not extract them again: the rows of a data view
/// (typically image rows through <c>ImageNetPreprocessing</c> and <see cref="PretrainedFeaturesEstimator"/>) written once
/// in ML.NET's binary format (<c>.idv</c>, <c>SaveAsBinary</c>) beside a key file (<c>.key.json</c>) saying what they were
/// made from (<see cref="FeatureFileKey"/>). <c>LoadOrCreate</c> reuses the file when its key equals the one asked
/// for and makes it again, saying why, when it does not.
/// </summary>
/// <remarks>
/// Writing goes to temporary files that are renamed into place (the data first, then the key), so an interrupted run
/// never leaves a file that looks finished: a data file without its key, or whose size differs from the size the key
/// records, is stale. Key columns keep their values (the format stores them), so a label key reads back as it was.
/// </remarks>
public static class FeatureFile
{
    /// <summary>The key file's name: the data file's plus this suffix.</summary>
    public const string KeySuffix = ".key.json";

    /// <summary>
    /// Loads the rows saved at <paramref name="path"/> when they were made from <paramref name="key"/>; otherwise reads
    /// every row of <paramref name="data"/> once (running its transforms: the image decoding and the backbone), saves
    /// them there, and loads them.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="data">The rows to save, with only the columns to keep (drop the pixels and other large columns
    /// first); read only when the file is missing or stale.</param>
    /// <param name="path">The data file (e.g. <c>features/train.idv</c>); its folder is created.</param>
    /// <param name="key">What <paramref name="data"/> is made from.</param>
    /// <param name="progress">Receives the number of rows read so far while the file is made (from the thread that reads
    /// them); null (default) for none.</param>
    /// <returns>The loaded rows and whether the file was reused, or why it was made again.</returns>
    /// <exception cref="IOException">The file could not be written.</exception>
    /// <exception cref="InvalidDataException">A row could not be read, e.g. an image that <c>ImageNetPreprocessing</c>
    /// cannot load: the message names the feature file, the image as written, the full path tried, its row and the
    /// image folder.</exception>
    public static FeatureFileResult LoadOrCreate(MLContext mlContext, IDataView data, string path, FeatureFileKey key, IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        // ML.NET's binary saver reads its input twice; through a cache the rows (and the backbone) are computed once.
        return LoadOrMake(mlContext, path, key, () => mlContext.Data.Cache(progress is null ? data : new RowCountingDataView(data, progress.Report)));
    }

    /// <summary>
    /// As <see cref="LoadOrCreate(MLContext, IDataView, string, FeatureFileKey, IProgress{long})"/> for the output of
    /// <paramref name="features"/> over <paramref name="images"/>, but when the file is made the backbone runs on batches of
    /// rows with ONNX Runtime directly (the same graph, 1.5x the images per second of the transform's one row per call on
    /// ResNet-18; features equal to float rounding) and the image column is read once.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="images">Rows with the transform's input image column; every visible column is kept in the file, and
    /// the feature column replaces a column of the same name (as the transform does).</param>
    /// <param name="features">The fitted feature step.</param>
    /// <param name="path">The data file.</param>
    /// <param name="key">What the rows are made from.</param>
    /// <param name="progress">Receives the number of images done so far; null (default) for none.</param>
    /// <returns>The loaded rows and whether the file was reused, or why it was made again.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The image column is missing or of the wrong size (naming it).</exception>
    /// <exception cref="IOException">The file could not be written.</exception>
    /// <exception cref="InvalidDataException">An image could not be loaded: the message names the feature file, the image
    /// as written, the full path tried, its row and the image folder.</exception>
    public static FeatureFileResult LoadOrCreate(MLContext mlContext, IDataView images, PretrainedFeaturesTransformer features, string path, FeatureFileKey key,
        IProgress<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(features);
        return LoadOrMake(mlContext, path, key, () => features.ExtractBatched(images, progress));
    }

    private static FeatureFileResult LoadOrMake(MLContext mlContext, string path, FeatureFileKey key, Func<IDataView> rows)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(key);
        var watch = Stopwatch.StartNew();
        path = Path.GetFullPath(path);
        var stale = Check(path, key);
        if (stale is not null)
        {
            try
            {
                Write(mlContext, rows(), path, key);
            }
            catch (Exception e) when (Unreadable(e) is { } unreadable)
            {
                // A row that cannot be read (ImageNetPreprocessing names the image, its row and the image folder; ML.NET's
                // cache wraps it in its own exception): say which file was being made.
                throw new InvalidDataException($"Could not make the feature file '{path}': {unreadable.Message}", e);
            }
        }
        return new FeatureFileResult(mlContext.Data.LoadFromBinary(path), stale is null, stale, path, watch.Elapsed.TotalSeconds);
    }

    /// <summary>The <see cref="InvalidDataException"/> in <paramref name="error"/>'s chain (a row that cannot be read), or null.</summary>
    private static InvalidDataException? Unreadable(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is InvalidDataException found) return found;
            if (e is AggregateException a && a.InnerExceptions.Select(Unreadable).FirstOrDefault(f => f is not null) is { } inner) return inner;
        }
        return null;
    }

    private static void Write(MLContext mlContext, IDataView data, string path, FeatureFileKey key)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string dataTemp = path + ".writing", keyTemp = path + KeySuffix + ".writing";
        File.Delete(path + KeySuffix); // the old data file is stale from here on
        using (var stream = File.Create(dataTemp))
            mlContext.Data.SaveAsBinary(data, stream, keepHidden: false);
        var record = new KeyRecord(key.Dataset, key.Preprocessing, key.Backbone, new FileInfo(dataTemp).Length);
        File.WriteAllText(keyTemp, JsonSerializer.Serialize(record, JsonOptions));
        File.Move(dataTemp, path, overwrite: true);
        File.Move(keyTemp, path + KeySuffix, overwrite: true);
    }

    /// <summary>Why the file at <paramref name="path"/> cannot be reused for <paramref name="key"/>, or null when it can.</summary>
    /// <param name="path">The data file.</param>
    /// <param name="key">The key asked for.</param>
    /// <returns>A sentence naming what differs (the dataset, preprocessing or backbone, with both values), or saying that
    /// the file or its key is missing or incomplete; null when the file matches.</returns>
    public static string? Check(string path, FeatureFileKey key)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(key);
        if (!File.Exists(path)) return $"no feature file at '{path}'";
        if (!File.Exists(path + KeySuffix)) return $"the feature file '{path}' has no key file (an interrupted run?)";
        KeyRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<KeyRecord>(File.ReadAllText(path + KeySuffix), JsonOptions);
        }
        catch (JsonException e)
        {
            return $"the key file '{path}{KeySuffix}' is unreadable ({e.Message})";
        }
        if (record is null) return $"the key file '{path}{KeySuffix}' is empty";
        var differences = key.Differences(new FeatureFileKey(record.Dataset, record.Preprocessing, record.Backbone));
        if (differences.Count > 0) return $"the feature file '{path}' is stale: {string.Join("; ", differences)}";
        var length = new FileInfo(path).Length;
        if (length != record.Bytes) return $"the feature file '{path}' has {length} bytes, its key says {record.Bytes} (changed or incomplete)";
        return null;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    private sealed record KeyRecord(string Dataset, string Preprocessing, string Backbone, long Bytes);
}

/// <summary>The outcome of <c>FeatureFile.LoadOrCreate</c>.</summary>
/// <param name="Data">The rows, loaded from the file.</param>
/// <param name="Reused">True when the file existed with the same key; false when it was made by this call.</param>
/// <param name="Reason">Why the file was made (missing, or stale and what differed); null when reused.</param>
/// <param name="Path">The data file's full path.</param>
/// <param name="Seconds">Wall-clock seconds of the call (extraction included when the file was made).</param>
public sealed record FeatureFileResult(IDataView Data, bool Reused, string? Reason, string Path, double Seconds);
