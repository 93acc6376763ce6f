namespace MLNet.FlatDebias.Trainers;

/// <summary>The optimiser of the network's parameters.</summary>
public enum OptimizerKind
{
    /// <summary>Stochastic gradient descent with momentum and weight decay (the Waterbirds literature's).</summary>
    Sgd,

    /// <summary>Adam (weight decay as L2, as <c>torch.optim.Adam</c>).</summary>
    Adam,
}
