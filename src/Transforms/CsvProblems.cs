namespace MLNet.FlatDebias.Transforms;

/// <summary>The problems found in a CSV file's rows, thrown at once as one <see cref="InvalidDataException"/> that names
/// the file and lists each problem with its line.</summary>
internal static class CsvProblems
{
    /// <summary>How many problems a message lists before it only counts the rest.</summary>
    public const int Listed = 20;

    /// <summary>Throws one <see cref="InvalidDataException"/> listing the problems of a file, if there are any.</summary>
    /// <param name="kind">What the file is, for the message (e.g. <c>Waterbirds metadata file</c>).</param>
    /// <param name="path">The file the problems are in.</param>
    /// <param name="problems">One line each, starting with where (e.g. <c>line 7</c>).</param>
    public static void ThrowIfAny(string kind, string path, IReadOnlyList<string> problems)
    {
        if (problems.Count == 0) return;
        if (problems.Count == 1) throw new InvalidDataException($"{kind} '{path}', {problems[0]}.");
        var listed = string.Join(Environment.NewLine, problems.Take(Listed).Select(p => "  " + p));
        var more = problems.Count > Listed ? $"{Environment.NewLine}  ... and {problems.Count - Listed} more" : "";
        throw new InvalidDataException($"{kind} '{path}' has {problems.Count} invalid rows:{Environment.NewLine}{listed}{more}");
    }
}
