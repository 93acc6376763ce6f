namespace MLNet.FlatDebias.Trainers;

/// <summary>Which path the penalty's gradient takes through the trace.</summary>
public enum TraceGradient
{
    /// <summary>Through everything the trace depends on (the paper's definition).</summary>
    Full,

    /// <summary>
    /// Through the output probabilities only. The trace is written <c>T_i = phi_i(p) * K_i</c> with
    /// <c>phi_i</c> = <c>1 - ||p_i||^2</c> (<see cref="TraceEstimator.Exact"/>) or <c>||e_y - p_i||^2</c>
    /// (<see cref="TraceEstimator.Empirical"/>, <see cref="TraceEstimator.Sampled"/> with the drawn label), and
    /// <c>K_i = T_i / phi_i</c> is held constant. For <see cref="TraceScope.Head"/> <c>K_i = ||h_i||^2 + 1</c>
    /// exactly: the gradient through the feature-norm factor is stopped, which keeps the penalty from
    /// collapsing the features of the rows it singles out. For <see cref="TraceScope.Full"/> <c>K_i</c> is the
    /// network's gradient gain along the probability-error direction; no second-order backward pass is needed.
    /// </summary>
    ProbabilitiesOnly,

    /// <summary>
    /// <b>(ours)</b> The penalty of a constrained row is its cross-entropy, <c>lambda_i l_i</c>, instead of its trace: the
    /// multipliers still come from the traces (rows above the bound gain weight), but the gradient that lowers the
    /// trace is the loss's. For <see cref="TraceEstimator.Empirical"/> traces, <c>T_i</c> goes to 0 exactly as
    /// <c>l_i</c> does; unlike the trace, whose gradient vanishes for a confidently wrong prediction (a saturated
    /// softmax), the loss keeps pulling such rows, which are the minority rows of a biased model. Traces are
    /// needed as values only, so <see cref="TraceScope.Full"/> costs no second-order backward pass.
    /// </summary>
    Loss,
}
