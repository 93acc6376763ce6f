using System.Globalization;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// The image sizes each network is built for. A size outside them still trains (the networks pool globally), but the
/// network then sees its input very differently from its design: the trainers report it as a warning
/// (<see cref="NetworkTrainerOptions.Warnings"/>, <see cref="TrainingHistory.Warnings"/>) before the first step.
/// </summary>
public static class NetworkInputSize
{
    /// <summary>The smallest side <see cref="NetworkKind.SmallCnn"/> is designed for (MNIST's 28 px).</summary>
    public const int SmallCnnMinimum = 28;

    /// <summary>The largest side <see cref="NetworkKind.SmallCnn"/> is designed for.</summary>
    public const int SmallCnnMaximum = 64;

    /// <summary>The smallest side a ResNet trained from scratch is designed for (CIFAR's 32 px).</summary>
    public const int ResNetMinimum = 32;

    /// <summary>The side the ImageNet weights were trained at.</summary>
    public const int ImageNetSide = 224;

    /// <summary>
    /// Says whether <paramref name="shape"/> is off the design point of a network, and why.
    /// </summary>
    /// <param name="kind">The network.</param>
    /// <param name="shape">The input image shape.</param>
    /// <param name="imageNetWeights">Whether the network starts from the built-in ImageNet ResNet-18 weights
    /// (<see cref="PretrainedWeightsSource.ImageNetResNet18"/>).</param>
    /// <returns>A warning naming the network, the size and the sizes it is designed for; null when the size is within
    /// them (and always for <see cref="NetworkKind.Mlp"/> and <see cref="NetworkKind.Linear"/>, which flatten their input
    /// and so take any size, a flat feature vector included).</returns>
    public static string? OffDesignWarning(NetworkKind kind, ImageShape shape, bool imageNetWeights = false)
    {
        int smaller = Math.Min(shape.Height, shape.Width), larger = Math.Max(shape.Height, shape.Width);
        string size = string.Create(CultureInfo.InvariantCulture, $"{shape.Height}x{shape.Width}");
        if (imageNetWeights)
        {
            return smaller < ImageNetSide / 2 || larger > ImageNetSide * 2
                ? $"The ImageNet ResNet-18 weights were trained on {ImageNetSide}x{ImageNetSide} images; at {size} the features they " +
                  $"learnt do not match what the network sees (designed for {ImageNetSide / 2} to {ImageNetSide * 2} px). " +
                  $"Resize the images to {ImageNetSide} (ImageNetPreprocessing's default) or train from scratch."
                : null;
        }
        return kind switch
        {
            NetworkKind.SmallCnn when smaller < SmallCnnMinimum =>
                $"SmallCnn is designed for {SmallCnnMinimum} to {SmallCnnMaximum} px images; at {size} its last block sees " +
                string.Create(CultureInfo.InvariantCulture, $"{shape.Height / 4}x{shape.Width / 4} pixels after two 2x2 poolings. ") +
                $"Use images of {SmallCnnMinimum} px or more, or the Mlp for very small ones.",
            NetworkKind.SmallCnn when larger > SmallCnnMaximum =>
                $"SmallCnn is designed for {SmallCnnMinimum} to {SmallCnnMaximum} px images; at {size} its three 3x3 blocks see at " +
                "most 18x18 pixels at once and average the rest away, and every step is slow. Use a ResNet (ResNet18 and up) " +
                $"or resize the images to {SmallCnnMaximum} px or less.",
            NetworkKind.ResNet18 or NetworkKind.ResNet34 or NetworkKind.ResNet50 when smaller < ResNetMinimum =>
                $"{kind} is designed for images of {ResNetMinimum} px and up; it divides the side by 32 (a stride-2 stem, max pooling, " +
                $"three stride-2 stages), so at {size} its last stages see one padded pixel. Use SmallCnn or the Mlp for small " +
                $"images, or resize them to {ResNetMinimum} px or more.",
            _ => null,
        };
    }
}
