using System.Globalization;
using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Datasets.Waterbirds;

/// <summary>
/// Reads and writes Waterbirds' <c>metadata.csv</c> (Sagawa et al. 2020; the same file in WILDS): a header
/// <c>img_id,img_filename,y,split,place,place_filename</c> and one row per image. Columns are found by name in the
/// header, so extra columns and another column order are accepted.
/// </summary>
internal static class WaterbirdsMetadataFile
{
    /// <summary>The file name inside the dataset folder.</summary>
    public const string FileName = "metadata.csv";

    /// <summary>The folder name of the dataset as distributed (Sagawa et al.'s tarball).</summary>
    public const string DistributedFolderName = "waterbird_complete95_forest2water2";

    /// <summary>The columns of the file, in Waterbirds' order.</summary>
    public static IReadOnlyList<string> Columns { get; } = ["img_id", "img_filename", "y", "split", "place", "place_filename"];

    /// <summary>
    /// The folder that holds <c>metadata.csv</c>: <paramref name="root"/> itself, or its subfolder
    /// <c>waterbird_complete95_forest2water2</c> when only that one has the file.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="FileNotFoundException">Neither folder holds <c>metadata.csv</c>.</exception>
    public static string ResolveDatasetFolder(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        var full = Path.GetFullPath(root);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"Waterbirds folder '{full}' does not exist. Pass the folder that holds {FileName} (e.g. {DistributedFolderName}, as extracted from its tarball).");
        if (File.Exists(Path.Combine(full, FileName))) return full;
        var nested = Path.Combine(full, DistributedFolderName);
        if (File.Exists(Path.Combine(nested, FileName))) return nested;
        var path = Path.Combine(full, FileName);
        throw new FileNotFoundException($"Waterbirds metadata file '{path}' does not exist. The dataset folder must hold {FileName} with columns {string.Join(", ", Columns)}.", path);
    }

    /// <summary>Reads and checks every row of a metadata file.</summary>
    /// <param name="path">The <c>metadata.csv</c> file.</param>
    /// <returns>The rows in file order.</returns>
    /// <exception cref="InvalidDataException">A column is missing, or a row is malformed or out of range; the message
    /// names the file and each offending line and img_id.</exception>
    public static IReadOnlyList<WaterbirdsMetadataRow> Read(string path)
    {
        using var reader = new StreamReader(path);
        var headerLine = reader.ReadLine();
        if (headerLine is null)
            throw new InvalidDataException($"Waterbirds metadata file '{path}' is empty; it must start with the header {string.Join(",", Columns)}.");
        var header = CsvLine.Split(headerLine).Select(h => h.Trim()).ToList();
        var index = new int[Columns.Count];
        for (int c = 0; c < Columns.Count; c++)
        {
            index[c] = header.IndexOf(Columns[c]);
            if (index[c] < 0)
                throw new InvalidDataException($"Waterbirds metadata file '{path}': Could not find column '{Columns[c]}' in the header ({string.Join(",", header)}); expected columns {string.Join(", ", Columns)}.");
        }

        var rows = new List<WaterbirdsMetadataRow>();
        var problems = new List<string>();
        var seenIds = new Dictionary<int, int>();
        int lineNumber = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var row = ParseRow(line, lineNumber, header.Count, index, out var problem);
            if (row is null) { problems.Add($"line {lineNumber}{problem}"); continue; }
            if (seenIds.TryGetValue(row.ImageId, out int firstLine))
            {
                problems.Add($"{row.Where}: img_id {row.ImageId} already appears on line {firstLine}");
                continue;
            }
            seenIds.Add(row.ImageId, lineNumber);
            rows.Add(row);
        }
        ThrowIfAny(path, problems);
        if (rows.Count == 0) throw new InvalidDataException($"Waterbirds metadata file '{path}' has a header but no rows.");
        return rows;
    }

    /// <summary>Throws one <see cref="InvalidDataException"/> listing the problems of a file, if there are any.</summary>
    /// <param name="path">The file the problems are in.</param>
    /// <param name="problems">One line each, starting with where (line and img_id).</param>
    public static void ThrowIfAny(string path, IReadOnlyList<string> problems) => CsvProblems.ThrowIfAny("Waterbirds metadata file", path, problems);

    /// <summary>Writes rows under Waterbirds' header, in Waterbirds' column order.</summary>
    /// <param name="path">The file to write (replaced if it exists).</param>
    /// <param name="rows">The rows.</param>
    public static void Write(string path, IEnumerable<WaterbirdsMetadataRow> rows)
    {
        using var writer = new StreamWriter(path) { NewLine = "\n" };
        writer.WriteLine(CsvLine.Join(Columns));
        foreach (var r in rows)
        {
            writer.WriteLine(CsvLine.Join([
                r.ImageId.ToString(CultureInfo.InvariantCulture), r.ImageFilename, r.Y.ToString(CultureInfo.InvariantCulture),
                ((int)r.Split).ToString(CultureInfo.InvariantCulture), r.Place.ToString(CultureInfo.InvariantCulture), r.PlaceFilename]));
        }
    }

    private static WaterbirdsMetadataRow? ParseRow(string line, int lineNumber, int headerCount, int[] index, out string problem)
    {
        List<string> fields;
        try { fields = CsvLine.Split(line); }
        catch (FormatException e) { problem = $": {e.Message}"; return null; }
        if (fields.Count != headerCount)
        {
            problem = $": {fields.Count} fields where the header has {headerCount}";
            return null;
        }
        string Field(int c) => fields[index[c]].Trim();

        if (!int.TryParse(Field(0), NumberStyles.Integer, CultureInfo.InvariantCulture, out int id))
        {
            problem = $": img_id must be an integer, got '{Field(0)}'";
            return null;
        }
        string filename = Field(1);
        if (filename.Length == 0) return Fail("img_filename is empty", out problem);
        if (Path.IsPathRooted(filename)) return Fail($"img_filename must be relative to the dataset folder, got '{filename}'", out problem);
        if (!TryCode(Field(2), 1, out int y)) return Fail($"y must be 0 (land bird) or 1 (water bird), got '{Field(2)}'", out problem);
        if (!TryCode(Field(3), 2, out int split)) return Fail($"split must be 0 (train), 1 (val) or 2 (test), got '{Field(3)}'", out problem);
        if (!TryCode(Field(4), 1, out int place)) return Fail($"place must be 0 (land) or 1 (water), got '{Field(4)}'", out problem);
        problem = "";
        return new WaterbirdsMetadataRow(id, filename, y, (WaterbirdsSplit)split, place, Field(5), lineNumber);

        WaterbirdsMetadataRow? Fail(string message, out string text)
        {
            text = $" (img_id {id}): {message}";
            return null;
        }
    }

    /// <summary>Parses an integer code in [0, max]; Waterbirds writes them as integers, some exports as <c>1.0</c>.</summary>
    private static bool TryCode(string text, int max, out int value)
    {
        value = -1;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i)) value = i;
        else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d == Math.Floor(d) && d is >= 0 and <= 100) value = (int)d;
        return value >= 0 && value <= max;
    }
}
