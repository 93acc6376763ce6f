using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>How <see cref="DpeTrainer"/> drew each member's rows from the held-out set.</summary>
public enum DpeBalancing
{
    /// <summary>Every group cut to the smallest group's size; members chosen by held-out worst-group accuracy.</summary>
    Groups,

    /// <summary>No group column: every class cut to the smallest class's size; members chosen by held-out worst-class
    /// accuracy.</summary>
    Classes,
}

/// <summary>What <see cref="DpeTrainer"/> did: the members' subsets, the epoch each member was taken from and its held-out
/// score, and the ensemble's held-out score. Found on the result's <see cref="TrainingHistory.Dpe"/>.</summary>
public sealed record DpeReport
{
    /// <summary>Ensemble members trained (<see cref="DpeTrainer.Options.NumberOfMembers"/>).</summary>
    public required int NumberOfMembers { get; init; }

    /// <summary>How the subsets were balanced, and so what <see cref="Members"/> and the ensemble's score measure: the
    /// worst group's accuracy (<see cref="DpeBalancing.Groups"/>) or the worst class's (<see cref="DpeBalancing.Classes"/>).</summary>
    public required DpeBalancing Balancing { get; init; }

    /// <summary>Rows of the held-out data (every row: each member's epoch is chosen on all of them).</summary>
    public required int HeldOutRows { get; init; }

    /// <summary>Rows of each member's subset: the number of groups (or classes) times the smallest one's held-out rows.</summary>
    public required int RowsPerMember { get; init; }

    /// <summary>One entry per member, in training order.</summary>
    public required IReadOnlyList<DpeMemberResult> Members { get; init; }

    /// <summary>The ensemble's held-out worst-group accuracy (worst-class without a group column).</summary>
    public required double EnsembleWorstAccuracy { get; init; }

    /// <summary>The ensemble's held-out accuracy over all rows.</summary>
    public required double EnsembleAccuracy { get; init; }

    /// <summary>Seconds from the start of <c>Fit</c> to the finished model (feature extraction, every member, the scoring
    /// chain).</summary>
    public required double Seconds { get; init; }

    /// <summary>A few lines, e.g. <c>DPE: 15 members of 40 rows (group-balanced); ensemble held-out worst group 0.8125,
    /// accuracy 0.9000</c>, then one line per member (<c>  member 1: epoch 17, worst group 0.7500</c>). Invariant culture.</summary>
    /// <returns>The text.</returns>
    public override string ToString()
    {
        string what = Balancing == DpeBalancing.Groups ? "worst group" : "worst class";
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"DPE: {NumberOfMembers} member{(NumberOfMembers == 1 ? "" : "s")} of {RowsPerMember} rows ({(Balancing == DpeBalancing.Groups ? "group" : "class")}-balanced) from {HeldOutRows} held-out rows; " +
            $"ensemble held-out {what} {EnsembleWorstAccuracy:F4}, accuracy {EnsembleAccuracy:F4} ({Seconds:F1} s)");
        foreach (var member in Members)
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  member {member.Member + 1}: epoch {member.SelectedEpoch + 1}, {what} {member.HeldOutWorstAccuracy:F4}");
        return text.ToString();
    }
}

/// <summary>One member of a <see cref="DpeTrainer"/> ensemble.</summary>
/// <param name="Member">Its zero-based index in training order.</param>
/// <param name="SelectedEpoch">The zero-based epoch whose prototypes it keeps: the best held-out worst-group (or
/// worst-class) accuracy, later epochs winning ties.</param>
/// <param name="HeldOutWorstAccuracy">That accuracy, over all held-out rows.</param>
public sealed record DpeMemberResult(int Member, int SelectedEpoch, double HeldOutWorstAccuracy);
