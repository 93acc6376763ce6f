using MLNet.FlatDebias.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>torchvision's BasicBlock (ResNet-18 and -34): two 3x3 convolutions and a shortcut.</summary>
internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    public const int Expansion = 1;

#pragma warning disable IDE1006 // PyTorch's submodule names, so state dictionaries load by name.
    private readonly GuardedConv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly GuardedConv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly ModuleList<nn.Module<Tensor, Tensor>>? downsample;
#pragma warning restore IDE1006

    public BasicBlock(long inputChannels, long planes, long stride, ModuleList<nn.Module<Tensor, Tensor>>? downsample) : base(nameof(BasicBlock))
    {
        conv1 = new GuardedConv2d(inputChannels, planes, 3, stride: stride, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(planes);
        conv2 = new GuardedConv2d(planes, planes, 3, stride: 1, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(planes);
        this.downsample = downsample;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var output = nn.functional.relu(bn1.call(conv1.call(input)));
        output = bn2.call(conv2.call(output));
        var shortcut = downsample is null ? input : downsample[1].call(downsample[0].call(input));
        return nn.functional.relu(output.add(shortcut, HeldScalars.One)); // alpha held (HeldScalars)
    }
}

/// <summary>torchvision's Bottleneck (ResNet-50, v1.5: the stride sits on the 3x3 convolution).</summary>
internal sealed class Bottleneck : nn.Module<Tensor, Tensor>
{
    public const int Expansion = 4;

#pragma warning disable IDE1006 // PyTorch's submodule names, so state dictionaries load by name.
    private readonly GuardedConv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly GuardedConv2d conv2;
    private readonly BatchNorm2d bn2;
    private readonly GuardedConv2d conv3;
    private readonly BatchNorm2d bn3;
    private readonly ModuleList<nn.Module<Tensor, Tensor>>? downsample;
#pragma warning restore IDE1006

    public Bottleneck(long inputChannels, long planes, long stride, ModuleList<nn.Module<Tensor, Tensor>>? downsample) : base(nameof(Bottleneck))
    {
        conv1 = new GuardedConv2d(inputChannels, planes, 1, bias: false);
        bn1 = nn.BatchNorm2d(planes);
        conv2 = new GuardedConv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
        bn2 = nn.BatchNorm2d(planes);
        conv3 = new GuardedConv2d(planes, planes * Expansion, 1, bias: false);
        bn3 = nn.BatchNorm2d(planes * Expansion);
        this.downsample = downsample;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        var output = nn.functional.relu(bn1.call(conv1.call(input)));
        output = nn.functional.relu(bn2.call(conv2.call(output)));
        output = bn3.call(conv3.call(output));
        var shortcut = downsample is null ? input : downsample[1].call(downsample[0].call(input));
        return nn.functional.relu(output.add(shortcut, HeldScalars.One)); // alpha held (HeldScalars)
    }
}
