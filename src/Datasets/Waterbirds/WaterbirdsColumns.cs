namespace MLNet.FlatDebias.Datasets.Waterbirds;

/// <summary>Names of the columns <see cref="Microsoft.ML.WaterbirdsCatalog.LoadWaterbirds"/> produces.</summary>
public static class WaterbirdsColumns
{
    /// <summary>Text: the absolute path of the image file.</summary>
    public const string ImagePath = "ImagePath";

    /// <summary>Key (2 values, <c>landbird</c>, <c>waterbird</c>): key value y + 1.</summary>
    public const string Label = "Label";

    /// <summary>Key (2 values, <c>land</c>, <c>water</c>): key value place + 1.</summary>
    public const string Place = "Place";

    /// <summary>Key (4 values, <c>landbird/land</c> … <c>waterbird/water</c>): key value 2·y + place + 1.</summary>
    public const string Group = "Group";

    /// <summary>Text: <c>train</c>, <c>val</c> or <c>test</c>.</summary>
    public const string Split = "Split";

    /// <summary>Int32: the <c>img_id</c> of <c>metadata.csv</c>.</summary>
    public const string ImageId = "ImageId";
}
