namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// What the flatness constraint did to each training row: the rows it singled out and how strongly. Rows are in
/// the training data view's order.
/// </summary>
/// <param name="Multipliers">Each row's multiplier lambda at the end of training (0: its constraint was never or is
/// no longer active).</param>
/// <param name="Traces">Each row's trace as measured for the bound: by the model frozen after the warm-up
/// (<see cref="Fisher.TraceReference.WarmupModel"/>) or over the last warm-up epoch (NaN for rows not measured).</param>
/// <param name="Bound">The bound epsilon, or null if it was never set.</param>
/// <param name="TracesByEpoch">For each epoch this run trained (after a resume: the epochs since), each row's trace as
/// the training step saw it (NaN where the epoch computed none, e.g. full-scope warm-up epochs).</param>
public sealed record RowDiagnostics(IReadOnlyList<float> Multipliers, IReadOnlyList<float> Traces, double? Bound,
    IReadOnlyList<IReadOnlyList<float>> TracesByEpoch);
