using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Datasets.ImageList;

/// <summary>
/// Reads an image list: a CSV (RFC 4180, <see cref="CsvLine"/>) with a header naming at least an image path column and a
/// label column (<see cref="ImageListColumns"/>), optionally a group and a split column; other columns are ignored.
/// </summary>
internal static class ImageListFile
{
    /// <summary>What the file is, in messages.</summary>
    public const string Kind = "Image list";

    /// <summary>Reads and checks every row.</summary>
    /// <param name="path">The CSV file.</param>
    /// <returns>The rows in file order, and whether the file has a group and a split column.</returns>
    /// <exception cref="InvalidDataException">The header lacks a column, or rows are malformed; the message names the file
    /// and each offending line.</exception>
    public static (IReadOnlyList<ImageListRow> Rows, bool HasGroup, bool HasSplit) Read(string path)
    {
        using var reader = new StreamReader(path);
        var headerLine = reader.ReadLine()
            ?? throw new InvalidDataException($"{Kind} '{path}' is empty; it must start with a header such as path,label,group,split.");
        var header = CsvLine.Split(headerLine).Select(h => h.Trim()).ToList();
        int pathIndex = Find(path, header, ImageListColumns.PathHeaders, required: true);
        int labelIndex = Find(path, header, ImageListColumns.LabelHeaders, required: true);
        int groupIndex = Find(path, header, ImageListColumns.GroupHeaders, required: false);
        int splitIndex = Find(path, header, ImageListColumns.SplitHeaders, required: false);

        var rows = new List<ImageListRow>();
        var problems = new List<string>();
        int lineNumber = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            List<string> fields;
            try { fields = CsvLine.Split(line); }
            catch (FormatException e) { problems.Add($"line {lineNumber}: {e.Message}"); continue; }
            if (fields.Count != header.Count)
            {
                problems.Add($"line {lineNumber}: {fields.Count} fields where the header has {header.Count}");
                continue;
            }
            string Field(int i) => fields[i].Trim();
            var row = new ImageListRow(Field(pathIndex), Field(labelIndex), groupIndex < 0 ? null : Field(groupIndex),
                splitIndex < 0 ? null : Field(splitIndex), lineNumber);
            var empty = new List<string>();
            if (row.Path.Length == 0) empty.Add(header[pathIndex]);
            if (row.Label.Length == 0) empty.Add(header[labelIndex]);
            if (row.Group is { Length: 0 }) empty.Add(header[groupIndex]);
            if (empty.Count > 0) problems.Add($"line {lineNumber}: {string.Join(" and ", empty)} {(empty.Count == 1 ? "is" : "are")} empty");
            else rows.Add(row);
        }
        CsvProblems.ThrowIfAny(Kind, path, problems);
        if (rows.Count == 0) throw new InvalidDataException($"{Kind} '{path}' has a header but no rows.");
        return (rows, groupIndex >= 0, splitIndex >= 0);
    }

    /// <summary>The index of the one header column named one of <paramref name="names"/> (ignoring case), or -1.</summary>
    /// <exception cref="InvalidDataException">A required column is missing, or two columns match.</exception>
    private static int Find(string path, List<string> header, IReadOnlyList<string> names, bool required)
    {
        var matches = Enumerable.Range(0, header.Count).Where(i => names.Contains(header[i], StringComparer.OrdinalIgnoreCase)).ToList();
        if (matches.Count > 1)
            throw new InvalidDataException($"{Kind} '{path}': the header has {matches.Count} columns for the same role ({string.Join(", ", matches.Select(i => header[i]))}); keep one of {string.Join(", ", names)}.");
        if (matches.Count == 0 && required)
            throw new InvalidDataException($"{Kind} '{path}': Could not find column '{names[0]}' in the header ({string.Join(",", header)}); it must be named {string.Join(" or ", names)} (any case).");
        return matches.Count == 0 ? -1 : matches[0];
    }
}
