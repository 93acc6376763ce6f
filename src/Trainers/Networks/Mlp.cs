using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// A multilayer perceptron over the flattened input: hidden linear layers with ReLU, then a linear head.
/// </summary>
/// <remarks>State-dictionary names: <c>hidden.0</c>, <c>hidden.1</c>, ..., <c>fc</c>.</remarks>
public sealed class Mlp : ClassifierNetwork
{
    /// <summary>The default hidden width (256).</summary>
    public const int DefaultWidth = 256;

    /// <summary>The default number of hidden layers (2).</summary>
    public const int DefaultDepth = 2;

#pragma warning disable IDE1006 // PyTorch-style submodule names.
    private readonly ModuleList<Linear> hidden;
    private readonly Linear fc;
#pragma warning restore IDE1006

    /// <summary>Builds the network.</summary>
    /// <param name="numberOfClasses">Output classes (at least 2).</param>
    /// <param name="inputShape">Input shape; the input is flattened to <c>C*H*W</c> values.</param>
    /// <param name="width">Hidden width (default 256, at least 1).</param>
    /// <param name="depth">Number of hidden layers (default 2, at least 1).</param>
    public Mlp(int numberOfClasses, ImageShape inputShape, int width = DefaultWidth, int depth = DefaultDepth)
        : base("mlp", inputShape, numberOfClasses)
    {
        inputShape.Validate(nameof(inputShape));
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "Width must be at least 1.");
        if (depth < 1) throw new ArgumentOutOfRangeException(nameof(depth), depth, "Depth must be at least 1.");
        Width = width;
        Depth = depth;
        var layers = new List<Linear>();
        long inputs = inputShape.Size;
        for (int i = 0; i < depth; i++)
        {
            layers.Add(nn.Linear(inputs, width));
            inputs = width;
        }
        hidden = nn.ModuleList(layers.ToArray());
        fc = nn.Linear(width, numberOfClasses);
        RegisterComponents();
    }

    /// <summary>Hidden width.</summary>
    public int Width { get; }

    /// <summary>Number of hidden layers.</summary>
    public int Depth { get; }

    /// <inheritdoc />
    public override Linear Head => fc;

    /// <inheritdoc />
    public override Tensor Features(Tensor input)
    {
        var x = input.flatten(1);
        foreach (var layer in hidden)
            x = nn.functional.relu(layer.call(x));
        return x;
    }
}
