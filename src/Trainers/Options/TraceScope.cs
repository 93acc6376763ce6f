namespace MLNet.FlatDebias.Trainers;

/// <summary>Which parameters the per-sample Fisher trace is taken over.</summary>
public enum TraceScope
{
    /// <summary>The last linear layer only: the closed form <c>(1 - ||p||^2)(||h||^2 + 1)</c> (for
    /// <see cref="TraceEstimator.Exact"/>). Costs almost nothing beyond the training forward pass.</summary>
    Head,

    /// <summary>Every trainable parameter of the network, by per-layer norms from one backward pass to the
    /// layer outputs (no loop over samples).</summary>
    Full,
}
