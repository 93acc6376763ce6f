using System.Collections.ObjectModel;
using Microsoft.ML;

namespace MLNet.FlatDebias.Metrics;

/// <summary>
/// Group weights for the adjusted average accuracy: computed from a training set's group proportions (the
/// Waterbirds convention), and checked against the groups of the data being evaluated.
/// </summary>
internal static class GroupWeights
{
    /// <summary>The parameter name used in messages.</summary>
    public const string ParameterName = "groupWeights";

    /// <summary>
    /// The share of rows of each group of <paramref name="trainData"/>, in group order, keyed by the group names
    /// <see cref="GroupColumnReader"/> gives (the names <c>EvaluateGroups</c> uses). Only groups with rows are
    /// listed; the shares are in (0, 1] and sum to 1.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The column is missing or of an unsupported type (ML.NET's wording).</exception>
    /// <exception cref="InvalidOperationException">The data view has no rows, or a row's group is missing.</exception>
    public static IReadOnlyDictionary<string, double> FromData(IDataView trainData, string groupColumnName)
    {
        var groups = GroupColumnReader.Read(trainData, groupColumnName);
        var counts = new int[groups.Names.Count];
        foreach (int g in groups.Indices) counts[g]++;
        var shares = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int g = 0; g < counts.Length; g++)
            if (counts[g] > 0) shares.Add(groups.Names[g], (double)counts[g] / groups.Indices.Length);
        return new ReadOnlyDictionary<string, double>(shares);
    }

    /// <summary>
    /// Checks <paramref name="groupWeights"/> against the groups with rows in <paramref name="summary"/> and
    /// renormalises them to sum 1.
    /// </summary>
    /// <param name="groupWeights">Group name → weight; the names must be exactly the groups with rows, the
    /// weights finite, ≥ 0 and not all 0.</param>
    /// <param name="summary">The evaluated groups.</param>
    /// <param name="groupColumnName">The group column, for messages.</param>
    /// <returns>One weight per group index (0 for groups with no rows), and the same weights by name, in group order.</returns>
    /// <exception cref="ArgumentException">A weight names a group that has no rows, a group with rows has no
    /// weight, a weight is negative or not finite, or all are 0; the message names the group.</exception>
    public static (double[] ByIndex, IReadOnlyDictionary<string, double> ByName) Align(
        IReadOnlyDictionary<string, double> groupWeights, GroupAccuracySummary summary, string groupColumnName)
    {
        ArgumentNullException.ThrowIfNull(groupWeights);
        var present = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int g = 0; g < summary.GroupNames.Count; g++)
            if (summary.HasRows(g)) present.Add(summary.GroupNames[g], g);

        foreach (var name in groupWeights.Keys.OrderBy(k => k, StringComparer.Ordinal))
            if (!present.ContainsKey(name))
                throw new ArgumentException($"{ParameterName} has a weight for group '{name}', which does not occur in the {GroupColumnReader.Role} column '{groupColumnName}'.", ParameterName);
        var byIndex = new double[summary.GroupNames.Count];
        double sum = 0;
        foreach (var (name, g) in present)
        {
            if (!groupWeights.TryGetValue(name, out double w))
                throw new ArgumentException($"Group '{name}' occurs in the {GroupColumnReader.Role} column '{groupColumnName}' but has no weight in {ParameterName}.", ParameterName);
            if (!double.IsFinite(w) || w < 0)
                throw new ArgumentException($"The weight of group '{name}' in {ParameterName} must be finite and >= 0, got {w}.", ParameterName);
            byIndex[g] = w;
            sum += w;
        }
        if (sum <= 0) throw new ArgumentException($"The weights in {ParameterName} must not all be 0.", ParameterName);

        var byName = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int g = 0; g < byIndex.Length; g++)
        {
            byIndex[g] /= sum;
            if (summary.HasRows(g)) byName.Add(summary.GroupNames[g], byIndex[g]);
        }
        return (byIndex, new ReadOnlyDictionary<string, double>(byName));
    }
}
