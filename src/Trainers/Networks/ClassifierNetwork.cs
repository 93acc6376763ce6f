using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// A classification network split into a feature extractor and a last linear layer, the split the
/// per-sample Fisher trace needs: <c>Forward(x) == Head(Features(x))</c>.
/// </summary>
/// <remarks>
/// Inputs are image batches <c>[N, C, H, W]</c> of <see cref="ScalarType.Float32"/> (an <see cref="Mlp"/> and a
/// <see cref="LinearClassifier"/> flatten them; a flat feature vector of n values comes to them as <c>[N, n, 1, 1]</c>).
/// Submodules keep PyTorch's names so that state dictionaries load by name.
/// Submodules are invoked with <c>call</c>, not <c>forward</c>, so that forward hooks fire: the fast
/// Fisher-trace path records layer inputs and outputs through them. A network of your own must do the same;
/// where a layer's hook does not fire, its parameters are handled by the slower per-sample loop.
/// </remarks>
public abstract class ClassifierNetwork : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module with the given name (the name does not enter state-dictionary keys).</summary>
    /// <param name="name">Module name, as TorchSharp's <see cref="nn.Module"/> takes it.</param>
    /// <param name="inputShape">The image shape the network was built for.</param>
    /// <param name="numberOfClasses">Number of output classes (at least 2).</param>
    protected ClassifierNetwork(string name, ImageShape inputShape, int numberOfClasses) : base(name)
    {
        if (numberOfClasses < 2)
            throw new ArgumentOutOfRangeException(nameof(numberOfClasses), numberOfClasses, "A classifier needs at least 2 classes.");
        InputShape = inputShape;
        NumberOfClasses = numberOfClasses;
    }

    /// <summary>The image shape <c>[C, H, W]</c> this network was built for.</summary>
    public ImageShape InputShape { get; }

    /// <summary>Number of classes: the size of the head's output.</summary>
    public int NumberOfClasses { get; }

    /// <summary>The last linear layer, mapping <see cref="Features"/> to logits.</summary>
    public abstract Linear Head { get; }

    /// <summary>Size of the penultimate activations that <see cref="Features"/> returns.</summary>
    public long FeatureDimension => Head.in_features;

    /// <summary>Penultimate activations <c>[N, FeatureDimension]</c> for an input batch.</summary>
    /// <param name="input">An image batch <c>[N, C, H, W]</c>.</param>
    /// <returns>The features the head consumes.</returns>
    public abstract Tensor Features(Tensor input);

    /// <summary>Logits <c>[N, NumberOfClasses]</c>: <c>Head(Features(input))</c>.</summary>
    /// <param name="input">An image batch <c>[N, C, H, W]</c>.</param>
    /// <returns>Unnormalised class scores.</returns>
    public override Tensor forward(Tensor input) => Head.call(Features(input));
}
