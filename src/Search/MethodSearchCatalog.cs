using MLNet.FlatDebias.Search;

namespace Microsoft.ML;

/// <summary>The method search on <c>mlContext.MulticlassClassification</c>: the fair benchmark's protocol (every method the
/// same number of draws, chosen on validation, the winner's seeds) on the user's own data, as AutoML's experiments read.</summary>
public static class MethodSearchCatalog
{
    /// <summary>A search over debiasing methods: <c>CreateMethodSearch(options).Execute(train, validation)</c> returns the
    /// chosen model and the leaderboard (<see cref="MethodSearchResult"/>).</summary>
    /// <param name="catalog">The multiclass classification catalog.</param>
    /// <param name="options">What to try and how to choose (<see cref="MethodSearchOptions"/>); default: every method the
    /// data allows, 8 draws each, seeds 1 to 3, chosen by validation worst-group accuracy with a group column.</param>
    /// <returns>The search, not yet run.</returns>
    /// <exception cref="ArgumentException">An option is out of range or contradicts another; the message names it.</exception>
    public static MethodSearch CreateMethodSearch(this MulticlassClassificationCatalog catalog, MethodSearchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new MethodSearch(options ?? new MethodSearchOptions());
    }
}
