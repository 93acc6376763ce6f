using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// One linear layer over the flattened input: multinomial logistic regression, for inputs that are already features
/// (e.g. a pretrained network's penultimate activations in a known-size vector column).
/// </summary>
/// <remarks>
/// <para><see cref="ClassifierNetwork.Features"/> is the flattened input itself (<c>x.flatten(1)</c>, no parameters)
/// and <see cref="Head"/> is the only layer, so the network's parameters are exactly the head's. This is the regime
/// where the head-only Fisher trace (<see cref="TraceScope.Head"/>, the closed form
/// <c>(1 - ||p||^2)(||x||^2 + 1)</c>) is the trace over all parameters (<see cref="TraceScope.Full"/>): the
/// paper's definition of the per-sample trace, with nothing left out, at the head's cost.</para>
/// <para>State-dictionary names: <c>fc.weight</c> (<c>[K, C*H*W]</c>) and <c>fc.bias</c> (<c>[K]</c>).</para>
/// </remarks>
public sealed class LinearClassifier : ClassifierNetwork
{
#pragma warning disable IDE1006 // PyTorch-style submodule names.
    private readonly Linear fc;
#pragma warning restore IDE1006

    /// <summary>Builds the network.</summary>
    /// <param name="numberOfClasses">Output classes (at least 2).</param>
    /// <param name="inputShape">Input shape; the input is flattened to <c>C*H*W</c> values (a feature vector of n
    /// values is the shape <c>[n, 1, 1]</c>).</param>
    public LinearClassifier(int numberOfClasses, ImageShape inputShape)
        : base("linear", inputShape, numberOfClasses)
    {
        inputShape.Validate(nameof(inputShape));
        fc = nn.Linear(inputShape.Size, numberOfClasses);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Linear Head => fc;

    /// <inheritdoc />
    public override Tensor Features(Tensor input) => input.flatten(1);
}
