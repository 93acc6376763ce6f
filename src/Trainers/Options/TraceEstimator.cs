namespace MLNet.FlatDebias.Trainers;

/// <summary>How the expectation over labels in <c>Tr F_i = E_{y ~ p(.|x_i)} ||grad log p(y|x_i)||^2</c> is taken.</summary>
public enum TraceEstimator
{
    /// <summary>The paper's definition: the exact expectation over the model's own distribution, one gradient
    /// per class (one per sample for two classes, via <c>p0 p1 ||grad (z1 - z0)||^2</c>).</summary>
    Exact,

    /// <summary>One label drawn per sample from the model's distribution (no gradient through the draw): an
    /// unbiased estimate of <see cref="Exact"/> with one gradient per sample for any number of classes.</summary>
    Sampled,

    /// <summary>The empirical Fisher: the true label. Large for confidently wrong samples, unlike <see cref="Exact"/>.</summary>
    Empirical,
}
