namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>Builds a <see cref="ClassifierNetwork"/> of a given <see cref="NetworkKind"/>.</summary>
public static class NetworkFactory
{
    /// <summary>Whether networks of <paramref name="kind"/> flatten their input (<see cref="NetworkKind.Mlp"/> and
    /// <see cref="NetworkKind.Linear"/>), and so take a flat feature vector as well as an image.</summary>
    internal static bool FlattensInput(NetworkKind kind) => kind is NetworkKind.Mlp or NetworkKind.Linear;

    /// <summary>Creates a randomly initialised network (seed the generator first for repeatable weights).</summary>
    /// <param name="kind">The family.</param>
    /// <param name="numberOfClasses">Output classes (at least 2).</param>
    /// <param name="inputShape">Image shape <c>[C, H, W]</c>; a flat feature vector of n values is <c>[n, 1, 1]</c> (for the
    /// kinds that flatten their input, <see cref="NetworkKind.Mlp"/> and <see cref="NetworkKind.Linear"/>).</param>
    /// <param name="width">Width override: the stem width for ResNets (default 64), the first block's
    /// channels for <see cref="NetworkKind.SmallCnn"/> (default 32), the hidden width for
    /// <see cref="NetworkKind.Mlp"/> (default 256); null for the default. Ignored by <see cref="NetworkKind.Linear"/>,
    /// which has no hidden layer.</param>
    /// <returns>The network, on the CPU, in training mode.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="kind"/> is not a known value.</exception>
    public static ClassifierNetwork Create(NetworkKind kind, int numberOfClasses, ImageShape inputShape, int? width = null) => kind switch
    {
        NetworkKind.ResNet18 => ResNet.ResNet18(numberOfClasses, inputShape, width ?? ResNet.DefaultWidth),
        NetworkKind.ResNet34 => ResNet.ResNet34(numberOfClasses, inputShape, width ?? ResNet.DefaultWidth),
        NetworkKind.ResNet50 => ResNet.ResNet50(numberOfClasses, inputShape, width ?? ResNet.DefaultWidth),
        NetworkKind.SmallCnn => new SmallCnn(numberOfClasses, inputShape, width ?? SmallCnn.DefaultWidth),
        NetworkKind.Mlp => new Mlp(numberOfClasses, inputShape, width ?? Mlp.DefaultWidth),
        NetworkKind.Linear => new LinearClassifier(numberOfClasses, inputShape),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind,
            $"Unknown network '{kind}'. Expected one of: {string.Join(", ", Enum.GetNames<NetworkKind>())}."),
    };
}
