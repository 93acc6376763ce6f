namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// What the flatness constraint (or LfF's re-weighting) did to each training row: the rows it singled out and how
/// strongly. Rows are in the training data view's order.
/// </summary>
/// <param name="Multipliers">Each row's multiplier lambda at the end of training (0: its constraint was never or is
/// no longer active). LfF: each row's loss weight <c>W = L_B / (L_B + L_D)</c> from the final moving averages, in [0, 1).</param>
/// <param name="Traces">Each row's trace as measured for the bound: by the model frozen after the warm-up
/// (<see cref="TraceReference.WarmupModel"/>) or over the last warm-up epoch (NaN for rows not measured; all NaN for LfF).</param>
/// <param name="Bound">The bound epsilon, or null if it was never set.</param>
/// <param name="TracesByEpoch">For each epoch this run trained (after a resume: the epochs since), each row's trace as
/// the training step saw it (NaN where the epoch computed none, e.g. full-scope warm-up epochs; empty for LfF).</param>
public sealed record RowDiagnostics(IReadOnlyList<float> Multipliers, IReadOnlyList<float> Traces, double? Bound,
    IReadOnlyList<IReadOnlyList<float>> TracesByEpoch)
{
    /// <summary>For each epoch this run trained (after a resume: the epochs since), each row's multiplier at the end of the
    /// epoch (FlatDebias; empty for LfF): how the weights built up, epoch by epoch.</summary>
    public IReadOnlyList<IReadOnlyList<float>> MultipliersByEpoch { get; init; } = [];
}
