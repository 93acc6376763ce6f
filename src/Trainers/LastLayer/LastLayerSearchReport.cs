using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>What a full-batch last-layer method (<see cref="AfrTrainer"/>, <see cref="FlatDebiasLastLayerTrainer"/>) did:
/// every grid point with its best validation epoch and score, the one chosen, and the rows and time it took.</summary>
public sealed record LastLayerSearchReport
{
    /// <summary>The method: <c>"AFR"</c> or <c>"FlatDebias last layer"</c>.</summary>
    public required string Method { get; init; }

    /// <summary>Every grid point in the order tried.</summary>
    public required IReadOnlyList<LastLayerCandidate> Candidates { get; init; }

    /// <summary>Index of the chosen grid point in <see cref="Candidates"/> (the best validation score; the first of equals).</summary>
    public required int Chosen { get; init; }

    /// <summary>True: scores are validation worst-group accuracies; false: worst-class accuracies (no group column).</summary>
    public required bool ScoredByGroups { get; init; }

    /// <summary>The rows the head was re-fitted on.</summary>
    public required int TrainingRows { get; init; }

    /// <summary>The validation rows that scored it.</summary>
    public required int ValidationRows { get; init; }

    /// <summary>Full-batch steps per grid point.</summary>
    public required int Epochs { get; init; }

    /// <summary>Wall-clock seconds of the whole fit (feature extraction included).</summary>
    public required double Seconds { get; init; }

    /// <summary>The chosen grid point.</summary>
    public LastLayerCandidate ChosenCandidate => Candidates[Chosen];

    /// <summary>One line per grid point after a summary line.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        var chosen = ChosenCandidate;
        string score = ScoredByGroups ? "worst group" : "worst class";
        text.Append(CultureInfo.InvariantCulture,
            $"{Method}: {chosen.Values}, epoch {chosen.BestEpoch} of {Epochs}: validation {score} {chosen.ValidationScore:F4} ({Candidates.Count} grid points, {TrainingRows} rows, {ValidationRows} validation rows, {Seconds:F1} s)");
        foreach (var c in Candidates) text.AppendLine().Append("  ").Append(c);
        return text.ToString();
    }
}

/// <summary>One grid point of a full-batch last-layer search.</summary>
/// <param name="Values">Its values, e.g. <c>gamma=10;lambda=0.1</c>.</param>
/// <param name="BestEpoch">The epoch its head was taken at (1 = after the first step).</param>
/// <param name="ValidationScore">Its validation worst-group (or worst-class) accuracy at that epoch.</param>
public sealed record LastLayerCandidate(string Values, int BestEpoch, double ValidationScore)
{
    /// <summary>The grid point as one line.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Values}: epoch {BestEpoch}, validation {ValidationScore:F4}");
}
