using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>What <see cref="DfrTrainer"/> did: the inverse regularisation C it chose, the tuning score of every C it
/// tried, and the group-balanced fits it averaged. Found on the result's <see cref="TrainingHistory.Dfr"/>.</summary>
public sealed record DfrReport
{
    /// <summary>The chosen inverse L1 strength C (scikit-learn's meaning; see <see cref="DfrTrainer"/>).</summary>
    public required double InverseRegularization { get; init; }

    /// <summary>The value given to ML.NET's <c>LbfgsMaximumEntropyMulticlassTrainer.Options.L1Regularization</c>:
    /// <c>1 / InverseRegularization</c>, rounded to float.</summary>
    public required float L1Regularization { get; init; }

    /// <summary>One entry per value of <see cref="DfrTrainer.Options.InverseRegularizationValues"/>, in the order
    /// given; empty when only one value was given (nothing to choose, so no tuning split is made).</summary>
    public required IReadOnlyList<DfrTuningResult> Tuning { get; init; }

    /// <summary>Held-out rows in the tuning fit part (before balancing); 0 without tuning.</summary>
    public required int TuningFitRows { get; init; }

    /// <summary>Rows of the group-balanced subset of the tuning fit part that every tuning head was fitted on; 0
    /// without tuning.</summary>
    public required int TuningBalancedRows { get; init; }

    /// <summary>Held-out rows in the tuning score part, where the worst-group accuracy of each C is measured; 0
    /// without tuning.</summary>
    public required int TuningScoreRows { get; init; }

    /// <summary>Rows of the held-out data (every row: the standardisation of the final head is fitted on them).</summary>
    public required int HeldOutRows { get; init; }

    /// <summary>The groups balanced, in the group column's order (those with at least one held-out row).</summary>
    public required IReadOnlyList<string> Groups { get; init; }

    /// <summary>Held-out rows of each group in <see cref="Groups"/>, in the same order.</summary>
    public required IReadOnlyList<int> GroupRows { get; init; }

    /// <summary>How many heads were fitted with the chosen C and averaged (<see cref="DfrTrainer.Options.NumberOfRetrains"/>).</summary>
    public required int NumberOfRetrains { get; init; }

    /// <summary>Rows of each final fit: the number of groups times the smallest group's held-out rows.</summary>
    public required int RowsPerRetrain { get; init; }

    /// <summary>Seconds from the start of <c>Fit</c> to the finished model (feature extraction, every fit, the scoring
    /// chain).</summary>
    public required double Seconds { get; init; }

    /// <summary>A few lines, e.g. <c>DFR: C 0.3 (L1Regularization 3.333) chosen on held-out worst-group accuracy</c>,
    /// then one line per C tried (<c>  C 1: worst group 0.8125, accuracy 0.9000</c>), then the averaged fits
    /// (<c>head averaged over 20 fits of 40 rows (4 groups x 10)</c>). Invariant culture.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"DFR: C {InverseRegularization:G4} (L1Regularization {L1Regularization:G4})");
        text.Append(Tuning.Count > 0 ? " chosen on held-out worst-group accuracy" : " (the only value given; no tuning)");
        foreach (var result in Tuning) text.AppendLine().Append("  ").Append(result);
        text.AppendLine().Append(CultureInfo.InvariantCulture,
            $"head averaged over {NumberOfRetrains} fit{(NumberOfRetrains == 1 ? "" : "s")} of {RowsPerRetrain} rows ({Groups.Count} groups x {(Groups.Count == 0 ? 0 : RowsPerRetrain / Groups.Count)}) from {HeldOutRows} held-out rows ({Seconds:F1} s)");
        return text.ToString();
    }
}

/// <summary>One inverse regularisation C tried by <see cref="DfrTrainer"/>: a head fitted on the group-balanced tuning
/// fit part, scored on the tuning score part.</summary>
/// <param name="InverseRegularization">The inverse L1 strength C.</param>
/// <param name="WorstGroupAccuracy">The lowest accuracy over the groups of the tuning score part: what C is chosen by.</param>
/// <param name="Accuracy">The accuracy over all rows of the tuning score part.</param>
public sealed record DfrTuningResult(double InverseRegularization, double WorstGroupAccuracy, double Accuracy)
{
    /// <summary>One line, e.g. <c>C 0.3: worst group 0.8125, accuracy 0.9000</c>. Invariant culture.</summary>
    /// <returns>The line.</returns>
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"C {InverseRegularization:G4}: worst group {WorstGroupAccuracy:F4}, accuracy {Accuracy:F4}");
}
