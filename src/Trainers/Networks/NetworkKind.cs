namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>The network families the trainers can build.</summary>
public enum NetworkKind
{
    /// <summary>torchvision's ResNet-18 (BasicBlocks [2, 2, 2, 2]); for images of 32 px and up.</summary>
    ResNet18,

    /// <summary>torchvision's ResNet-34 (BasicBlocks [3, 4, 6, 3]).</summary>
    ResNet34,

    /// <summary>torchvision's ResNet-50 (Bottlenecks [3, 4, 6, 3]): the Waterbirds literature's network.</summary>
    ResNet50,

    /// <summary>A three-block convolutional network for 28-64 px images (<see cref="Networks.SmallCnn"/>).</summary>
    SmallCnn,

    /// <summary>A multilayer perceptron over the flattened image (<see cref="Networks.Mlp"/>).</summary>
    Mlp,
}
