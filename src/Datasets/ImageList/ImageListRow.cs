namespace MLNet.FlatDebias.Datasets.ImageList;

/// <summary>One row of an image list CSV, as written (values trimmed).</summary>
/// <param name="Path">The image path as written: relative to the image folder, or absolute.</param>
/// <param name="Label">The label.</param>
/// <param name="Group">The group, or null when the CSV has no group column.</param>
/// <param name="Split">The split, or null when the CSV has no split column.</param>
/// <param name="LineNumber">The 1-based line of the file (the header is line 1).</param>
internal sealed record ImageListRow(string Path, string Label, string? Group, string? Split, int LineNumber);
