using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// A small convolutional network for 28-64 px images: three 3x3 convolution blocks (convolution, optional
/// batch norm, ReLU; the first two followed by 2x2 max pooling), global average pooling, and a linear head.
/// </summary>
/// <remarks>Features have <c>4 * width</c> values. State-dictionary names: <c>conv1..conv3</c>, <c>bn1..bn3</c>, <c>fc</c>.</remarks>
public sealed class SmallCnn : ClassifierNetwork
{
    /// <summary>The default width (32 channels in the first block, 128 features).</summary>
    public const int DefaultWidth = 32;

#pragma warning disable IDE1006 // PyTorch-style submodule names.
    private readonly GuardedConv2d conv1;
    private readonly GuardedConv2d conv2;
    private readonly GuardedConv2d conv3;
    private readonly BatchNorm2d? bn1;
    private readonly BatchNorm2d? bn2;
    private readonly BatchNorm2d? bn3;
    private readonly Linear fc;
#pragma warning restore IDE1006

    /// <summary>Builds the network.</summary>
    /// <param name="numberOfClasses">Output classes (at least 2).</param>
    /// <param name="inputShape">Image shape; height and width of at least 4.</param>
    /// <param name="width">Channels of the first block (default 32, at least 1); the next blocks use 2x and 4x.</param>
    /// <param name="batchNorm">Whether each convolution is followed by batch norm (default true).</param>
    public SmallCnn(int numberOfClasses, ImageShape inputShape, int width = DefaultWidth, bool batchNorm = true)
        : base("small_cnn", inputShape, numberOfClasses)
    {
        inputShape.Validate(nameof(inputShape));
        if (inputShape.Height < 4 || inputShape.Width < 4)
            throw new ArgumentException($"SmallCnn needs images of at least 4x4 pixels, got {inputShape}.", nameof(inputShape));
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "Width must be at least 1.");
        Width = width;
        BatchNorm = batchNorm;
        conv1 = new GuardedConv2d(inputShape.Channels, width, 3, padding: 1, bias: !batchNorm);
        conv2 = new GuardedConv2d(width, 2 * width, 3, padding: 1, bias: !batchNorm);
        conv3 = new GuardedConv2d(2 * width, 4 * width, 3, padding: 1, bias: !batchNorm);
        if (batchNorm)
        {
            bn1 = nn.BatchNorm2d(width);
            bn2 = nn.BatchNorm2d(2 * width);
            bn3 = nn.BatchNorm2d(4 * width);
        }
        fc = nn.Linear(4 * width, numberOfClasses);
        RegisterComponents();
    }

    /// <summary>Channels of the first block.</summary>
    public int Width { get; }

    /// <summary>Whether the convolutions are followed by batch norm.</summary>
    public bool BatchNorm { get; }

    /// <inheritdoc />
    public override Linear Head => fc;

    /// <inheritdoc />
    public override Tensor Features(Tensor input)
    {
        var x = nn.functional.max_pool2d(Block(conv1, bn1, input), 2);
        x = nn.functional.max_pool2d(Block(conv2, bn2, x), 2);
        x = Block(conv3, bn3, x);
        return nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
    }

    private static Tensor Block(GuardedConv2d conv, BatchNorm2d? bn, Tensor x)
    {
        var y = conv.call(x);
        if (bn is not null) y = bn.call(y);
        return nn.functional.relu(y);
    }
}
