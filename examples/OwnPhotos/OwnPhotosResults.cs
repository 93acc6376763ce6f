namespace MLNet.FlatDebias.Examples.OwnPhotos;

/// <summary>What one run of the own-photos example did, as written to <c>results.json</c>.</summary>
/// <param name="CsvPath">The image list read.</param>
/// <param name="ImageFolder">The folder its relative paths were read from.</param>
/// <param name="Demo">Whether the example drew the demo folder.</param>
/// <param name="Method">The head.</param>
/// <param name="Rows">Rows per split: train, validation, test.</param>
/// <param name="FeatureFiles">Each split's feature file: reused, or made and why.</param>
/// <param name="TestAccuracy">Test accuracy.</param>
/// <param name="TestWorstGroupAccuracy">Test worst-group accuracy.</param>
/// <param name="TestGroups">Test accuracy of each group.</param>
/// <param name="ModelPath">The saved chain (image path to label).</param>
/// <param name="SavedImageFolders">The saved chain's image folders (null: paths as given).</param>
/// <param name="Scoring">The saved chain scoring the test images from another folder.</param>
/// <param name="Seconds">Wall-clock seconds of the run.</param>
public sealed record OwnPhotosResults(
    string CsvPath, string ImageFolder, bool Demo, OwnPhotosMethod Method, IReadOnlyDictionary<string, int> Rows,
    IReadOnlyList<FeatureFileSummary> FeatureFiles, double TestAccuracy, double TestWorstGroupAccuracy, IReadOnlyList<GroupSummary> TestGroups,
    string ModelPath, IReadOnlyList<string?> SavedImageFolders, ScoringSummary Scoring, double Seconds);

/// <summary>One split's feature file.</summary>
/// <param name="Split">The split value.</param>
/// <param name="Path">The file.</param>
/// <param name="Reused">True when an existing file with the same key was loaded.</param>
/// <param name="Reason">Why it was made (null when reused).</param>
public sealed record FeatureFileSummary(string Split, string Path, bool Reused, string? Reason);

/// <summary>One test group's accuracy.</summary>
/// <param name="Group">The group.</param>
/// <param name="Rows">Its test rows.</param>
/// <param name="Accuracy">Its accuracy.</param>
public sealed record GroupSummary(string Group, int Rows, double Accuracy);

/// <summary>The saved chain scoring image paths relative to another folder.</summary>
/// <param name="Folder">The folder the test images were copied to and read from.</param>
/// <param name="Images">Images scored.</param>
/// <param name="SameLabel">Of those, how many got the label the in-memory model gave.</param>
/// <param name="Example">One scored path (relative to <paramref name="Folder"/>) and its label.</param>
public sealed record ScoringSummary(string Folder, int Images, int SameLabel, string Example);
