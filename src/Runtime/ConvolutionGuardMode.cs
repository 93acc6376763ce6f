namespace MLNet.FlatDebias.Runtime;

/// <summary>Whether the library checks the convolution backend before it trains on its gradients
/// (<see cref="TorchRuntime.ConvolutionGuard"/>).</summary>
public enum ConvolutionGuardMode
{
    /// <summary>The default. The library checks each convolution shape the first time it is met (output, weight gradient and,
    /// where taken, input gradient in float32 against float64, at one thread and at the process's thread count), computes
    /// the shape by the cheapest path that passed, and throws where none did.</summary>
    Auto,

    /// <summary>No check: every convolution is computed directly, right or wrong. For measuring the guard's effect and
    /// for backends known to be right.</summary>
    Off,
}
