using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// A residual network with torchvision's layout and state-dictionary names (<c>conv1</c>, <c>bn1</c>,
/// <c>layer1</c>..<c>layer4</c>, <c>fc</c>), so torchvision weights load by name, including from a PyTorch
/// <c>.pth</c> or <c>.safetensors</c> file through TorchSharp.PyBridge.
/// </summary>
/// <remarks>
/// One difference in computation, none in weights: a stride-2 1x1 downsample is computed as a subsample
/// followed by a stride-1 1x1 convolution (<see cref="StridedPointwiseConv2d"/>), which gives the same output
/// and gradients and avoids a oneDNN crash on some CPUs. Use <see cref="ResNet18"/>, <see cref="ResNet34"/>
/// or <see cref="ResNet50"/>; <see cref="ResNet(string, bool, IReadOnlyList{int}, int, ImageShape, int)"/>
/// builds other depths (e.g. the [2, 2, 2, 3] ResNet-18 that ML.NET's ImageNet featurizer ships).
/// </remarks>
public sealed class ResNet : ClassifierNetwork
{
    /// <summary>The default stem width (64, as in torchvision).</summary>
    public const int DefaultWidth = 64;

#pragma warning disable IDE1006 // PyTorch's submodule names, so state dictionaries load by name.
    private readonly GuardedConv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly MaxPool2d maxpool;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layer1;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layer2;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layer3;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> layer4;
    private readonly Linear fc;
#pragma warning restore IDE1006

    /// <summary>Builds a ResNet.</summary>
    /// <param name="name">Module name.</param>
    /// <param name="bottleneck">True for Bottleneck blocks (ResNet-50 and deeper), false for BasicBlocks.</param>
    /// <param name="blocksPerStage">Blocks in each of the four stages, e.g. [2, 2, 2, 2] for ResNet-18.</param>
    /// <param name="numberOfClasses">Output classes (at least 2).</param>
    /// <param name="inputShape">Image shape; its channel count sets <c>conv1</c>'s input channels. Any height
    /// and width of at least 32 works (global average pooling).</param>
    /// <param name="width">Stem width (default 64; the stages use width, 2x, 4x, 8x). Smaller widths make small
    /// networks for tests; torchvision weights need 64.</param>
    public ResNet(string name, bool bottleneck, IReadOnlyList<int> blocksPerStage, int numberOfClasses, ImageShape inputShape, int width = DefaultWidth)
        : base(name, inputShape, numberOfClasses)
    {
        ArgumentNullException.ThrowIfNull(blocksPerStage);
        if (blocksPerStage.Count != 4 || blocksPerStage.Any(b => b < 1))
            throw new ArgumentException("A ResNet needs four stages of at least one block each.", nameof(blocksPerStage));
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "Width must be at least 1.");
        inputShape.Validate(nameof(inputShape));

        Bottleneck = bottleneck;
        BlocksPerStage = blocksPerStage.ToArray();
        Width = width;
        int expansion = bottleneck ? Networks.Bottleneck.Expansion : BasicBlock.Expansion;

        conv1 = new GuardedConv2d(inputShape.Channels, width, 7, stride: 2, padding: 3, bias: false);
        bn1 = nn.BatchNorm2d(width);
        maxpool = nn.MaxPool2d(3, stride: 2, padding: 1);
        long channels = width;
        layer1 = MakeStage(ref channels, width, blocksPerStage[0], 1, bottleneck, expansion);
        layer2 = MakeStage(ref channels, width * 2, blocksPerStage[1], 2, bottleneck, expansion);
        layer3 = MakeStage(ref channels, width * 4, blocksPerStage[2], 2, bottleneck, expansion);
        layer4 = MakeStage(ref channels, width * 8, blocksPerStage[3], 2, bottleneck, expansion);
        fc = nn.Linear(channels, numberOfClasses);
        RegisterComponents();
        InitialiseLikeTorchvision();
    }

    /// <summary>True when the blocks are Bottlenecks.</summary>
    public bool Bottleneck { get; }

    /// <summary>Blocks per stage.</summary>
    public IReadOnlyList<int> BlocksPerStage { get; }

    /// <summary>Stem width.</summary>
    public int Width { get; }

    /// <inheritdoc />
    public override Linear Head => fc;

    /// <summary>ResNet-18: BasicBlocks [2, 2, 2, 2], 512 features at width 64.</summary>
    /// <param name="numberOfClasses">Output classes.</param>
    /// <param name="inputShape">Image shape (3x224x224 for ImageNet weights).</param>
    /// <param name="width">Stem width (default 64).</param>
    /// <returns>A new, randomly initialised network.</returns>
    public static ResNet ResNet18(int numberOfClasses, ImageShape inputShape, int width = DefaultWidth)
        => new("resnet18", false, [2, 2, 2, 2], numberOfClasses, inputShape, width);

    /// <summary>ResNet-34: BasicBlocks [3, 4, 6, 3], 512 features at width 64.</summary>
    /// <param name="numberOfClasses">Output classes.</param>
    /// <param name="inputShape">Image shape.</param>
    /// <param name="width">Stem width (default 64).</param>
    /// <returns>A new, randomly initialised network.</returns>
    public static ResNet ResNet34(int numberOfClasses, ImageShape inputShape, int width = DefaultWidth)
        => new("resnet34", false, [3, 4, 6, 3], numberOfClasses, inputShape, width);

    /// <summary>ResNet-50: Bottlenecks [3, 4, 6, 3], 2048 features at width 64.</summary>
    /// <param name="numberOfClasses">Output classes.</param>
    /// <param name="inputShape">Image shape.</param>
    /// <param name="width">Stem width (default 64).</param>
    /// <returns>A new, randomly initialised network.</returns>
    public static ResNet ResNet50(int numberOfClasses, ImageShape inputShape, int width = DefaultWidth)
        => new("resnet50", true, [3, 4, 6, 3], numberOfClasses, inputShape, width);

    /// <inheritdoc />
    public override Tensor Features(Tensor input)
    {
        var x = maxpool.call(nn.functional.relu(bn1.call(conv1.call(input))));
        foreach (var stage in new[] { layer1, layer2, layer3, layer4 })
            foreach (var block in stage)
                x = block.call(x);
        return nn.functional.adaptive_avg_pool2d(x, 1).flatten(1);
    }

    // ModuleList rather than Sequential: Sequential disposes intermediate results, which the Fisher engine's
    // forward hooks must keep until the trace is computed. The state-dictionary names are the same.
    private static ModuleList<nn.Module<Tensor, Tensor>> MakeStage(ref long channels, long planes, int blocks, long stride, bool bottleneck, int expansion)
    {
        var stage = nn.ModuleList<nn.Module<Tensor, Tensor>>();
        for (int b = 0; b < blocks; b++)
        {
            long blockStride = b == 0 ? stride : 1;
            ModuleList<nn.Module<Tensor, Tensor>>? downsample = null;
            if (blockStride != 1 || channels != planes * expansion)
            {
                nn.Module<Tensor, Tensor> projection = blockStride == 1
                    ? new GuardedConv2d(channels, planes * expansion, 1, bias: false)
                    : new StridedPointwiseConv2d(channels, planes * expansion, blockStride);
                downsample = nn.ModuleList<nn.Module<Tensor, Tensor>>(projection, nn.BatchNorm2d(planes * expansion));
            }
            nn.Module<Tensor, Tensor> block = bottleneck
                ? new Bottleneck(channels, planes, blockStride, downsample)
                : new BasicBlock(channels, planes, blockStride, downsample);
            stage.Add(block);
            channels = planes * expansion;
        }
        return stage;
    }

    private void InitialiseLikeTorchvision()
    {
        using var noGrad = no_grad();
        foreach (var (_, module) in named_modules())
        {
            switch (module)
            {
                case GuardedConv2d conv:
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                    break;
                case BatchNorm2d bn:
                    nn.init.ones_(bn.weight);
                    nn.init.zeros_(bn.bias);
                    break;
            }
        }
    }
}
