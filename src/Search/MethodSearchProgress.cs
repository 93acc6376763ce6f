namespace MLNet.FlatDebias.Search;

/// <summary>What a running <see cref="MethodSearch"/> reports after each training (<c>IProgress&lt;MethodSearchProgress&gt;</c>).</summary>
/// <param name="Stage"><c>draws</c> (every method's draws, seed 0) or <c>seeds</c> (the chosen draw's other seeds).</param>
/// <param name="Completed">Trainings finished so far, this one included (those read back from the result folder too).</param>
/// <param name="Total">Trainings the search plans (with a time budget, known once every method's defaults have trained).</param>
/// <param name="Trial">The training that just finished.</param>
/// <param name="Reused">Whether it was read from the result folder rather than trained.</param>
/// <param name="Leader">The best draw so far by the search's rule, or null when none has a score.</param>
public sealed record MethodSearchProgress(string Stage, int Completed, int Total, SearchTrial Trial, bool Reused, SearchTrial? Leader)
{
    /// <inheritdoc/>
    public override string ToString()
        => $"{Stage} {Completed}/{Total}: {Trial.Method} draw {Trial.Draw} seed {Trial.Seed} "
            + (Trial.Failed ? $"failed ({Trial.FailureReason})" : $"{SearchRule.Describe(Trial)}{(Reused ? " (finished before)" : "")}")
            + (Leader is null ? "" : $"; leader {Leader.Method} draw {Leader.Draw} {SearchRule.Describe(Leader)}");
}
