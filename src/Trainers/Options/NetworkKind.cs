using MLNet.FlatDebias.Trainers.Networks;
namespace MLNet.FlatDebias.Trainers;

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

    /// <summary>A multilayer perceptron over the flattened image (<see cref="Networks.Mlp"/>); also takes a flat feature
    /// vector.</summary>
    Mlp,

    /// <summary>One linear layer over the flattened input, i.e. multinomial logistic regression
    /// (<see cref="LinearClassifier"/>): for feature vectors such as a frozen pretrained network's penultimate
    /// activations. Its head-only Fisher trace is its whole trace.</summary>
    Linear,
}
