namespace MLNet.FlatDebias.Datasets.Waterbirds;

/// <summary>
/// The names Waterbirds uses for its labels, places, groups and splits, as they appear in the <c>KeyValues</c>
/// annotations and the <c>Split</c> column of <see cref="Microsoft.ML.WaterbirdsCatalog.LoadWaterbirds"/>.
/// Group <c>g = 2·y + place</c> (y = 1 waterbird, place = 1 water); its key value is <c>g + 1</c>.
/// </summary>
public static class WaterbirdsNames
{
    /// <summary>Label 0 (key 1): a land bird.</summary>
    public const string Landbird = "landbird";

    /// <summary>Label 1 (key 2): a water bird.</summary>
    public const string Waterbird = "waterbird";

    /// <summary>Place 0 (key 1): a land background (bamboo or broadleaf forest).</summary>
    public const string Land = "land";

    /// <summary>Place 1 (key 2): a water background (ocean or lake).</summary>
    public const string Water = "water";

    /// <summary>Group 0 (key 1): land bird on land, the training set's largest group.</summary>
    public const string LandbirdOnLand = "landbird/land";

    /// <summary>Group 1 (key 2): land bird on water, a minority group.</summary>
    public const string LandbirdOnWater = "landbird/water";

    /// <summary>Group 2 (key 3): water bird on land, the training set's smallest group.</summary>
    public const string WaterbirdOnLand = "waterbird/land";

    /// <summary>Group 3 (key 4): water bird on water.</summary>
    public const string WaterbirdOnWater = "waterbird/water";

    /// <summary>Text of the <c>Split</c> column for <see cref="WaterbirdsSplit.Train"/>.</summary>
    public const string TrainSplit = "train";

    /// <summary>Text of the <c>Split</c> column for <see cref="WaterbirdsSplit.Validation"/>.</summary>
    public const string ValidationSplit = "val";

    /// <summary>Text of the <c>Split</c> column for <see cref="WaterbirdsSplit.Test"/>.</summary>
    public const string TestSplit = "test";

    /// <summary>Label names by label value y (0, 1).</summary>
    public static IReadOnlyList<string> Labels { get; } = [Landbird, Waterbird];

    /// <summary>Place names by place value (0, 1).</summary>
    public static IReadOnlyList<string> Places { get; } = [Land, Water];

    /// <summary>Group names by group index g = 2·y + place (0 to 3).</summary>
    public static IReadOnlyList<string> Groups { get; } = [LandbirdOnLand, LandbirdOnWater, WaterbirdOnLand, WaterbirdOnWater];

    /// <summary>The group index of a label and a place: <c>2·y + place</c>.</summary>
    /// <param name="y">The label: 0 land bird, 1 water bird.</param>
    /// <param name="place">The place: 0 land, 1 water.</param>
    /// <returns>The group index, 0 to 3.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="y"/> or <paramref name="place"/> is not 0 or 1.</exception>
    public static int Group(int y, int place)
    {
        if (y is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(y), y, "y must be 0 (land bird) or 1 (water bird).");
        if (place is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(place), place, "place must be 0 (land) or 1 (water).");
        return 2 * y + place;
    }

    /// <summary>The text of the <c>Split</c> column for a split: <c>train</c>, <c>val</c> or <c>test</c>.</summary>
    /// <param name="split">The split.</param>
    /// <returns>The split's text.</returns>
    public static string SplitName(WaterbirdsSplit split) => split switch
    {
        WaterbirdsSplit.Train => TrainSplit,
        WaterbirdsSplit.Validation => ValidationSplit,
        WaterbirdsSplit.Test => TestSplit,
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Split must be Train, Validation or Test."),
    };
}
