namespace MLNet.FlatDebias.Trainers;

/// <summary>How the per-row multipliers act on training.</summary>
public enum MultiplierUse
{
    /// <summary>As the Lagrangian's penalty: the step minimises <c>(1/|B|) sum_i [l_i + lambda_i P_i]</c>, with
    /// <c>P_i</c> the trace (or the loss, see <see cref="TraceGradient.Loss"/>).</summary>
    Penalty,

    /// <summary><b>(ours)</b> As sampling weights: each epoch draws its rows with probability proportional to
    /// <c>1 + lambda_i</c> (with replacement) and minimises the plain loss. Same emphasis as the penalty with the
    /// loss surrogate, without the high-variance batches that a few heavily weighted rows make.</summary>
    Sampling,
}
