namespace MLNet.FlatDebias.Datasets.Waterbirds;

/// <summary>
/// The three splits of Waterbirds. The numeric values are the codes of the <c>split</c> column of
/// <c>metadata.csv</c> (0 = train, 1 = validation, 2 = test).
/// </summary>
public enum WaterbirdsSplit
{
    /// <summary>The training split (code 0, text <c>train</c>): 95 % of each class on its usual place.</summary>
    Train = 0,

    /// <summary>The validation split (code 1, text <c>val</c>): place balanced within each class.</summary>
    Validation = 1,

    /// <summary>The test split (code 2, text <c>test</c>): place balanced within each class.</summary>
    Test = 2,
}
