namespace MLNet.FlatDebias.Datasets.ImageList;

/// <summary>The columns <c>mlContext.Data.LoadImageList</c> gives, and the CSV header names it reads them from.</summary>
public static class ImageListColumns
{
    /// <summary><c>ImagePath</c>: text, the image's full path (the CSV's path resolved against the image folder); the
    /// column <c>ImageNetPreprocessing</c> reads by default.</summary>
    public const string ImagePath = "ImagePath";

    /// <summary><c>Label</c>: text, as written in the CSV; map it to a key (<c>MapValueToKey("Label")</c>) before training.</summary>
    public const string Label = "Label";

    /// <summary><c>Group</c>: text, as written; only when the CSV has a group column.</summary>
    public const string Group = "Group";

    /// <summary><c>Split</c>: text, as written (e.g. <c>train</c>, <c>val</c>, <c>test</c>); only when the CSV has a split column.</summary>
    public const string Split = "Split";

    /// <summary>Header names accepted for the image path (compared ignoring case): <c>path</c>, <c>ImagePath</c>, <c>image</c>.</summary>
    public static IReadOnlyList<string> PathHeaders { get; } = ["path", "ImagePath", "image"];

    /// <summary>Header name of the label (compared ignoring case): <c>label</c>.</summary>
    public static IReadOnlyList<string> LabelHeaders { get; } = ["label"];

    /// <summary>Header name of the optional group (compared ignoring case): <c>group</c>.</summary>
    public static IReadOnlyList<string> GroupHeaders { get; } = ["group"];

    /// <summary>Header name of the optional split (compared ignoring case): <c>split</c>.</summary>
    public static IReadOnlyList<string> SplitHeaders { get; } = ["split"];
}
