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

    /// <summary>The last linear layer, mapping <see cref="Features"/> to logits. When <see cref="PrototypeHead"/> is set,
    /// this is the linear layer the prototypes replaced, kept for its shape and unused for prediction (a network loaded
    /// from ONNX has it filled with zeros: it is not in the file).</summary>
    public abstract Linear Head { get; }

    /// <summary>DPE's prototype ensemble (<see cref="LastLayer.DpeTrainer"/>), which replaces <see cref="Head"/> in
    /// <see cref="forward"/> when set; null (the default) for every other network. A submodule named <c>prototypes</c>,
    /// so its state-dictionary entries are <c>prototypes.directions</c> and <c>prototypes.scales</c>.</summary>
    public PrototypeEnsembleHead? PrototypeHead { get; private set; }

    /// <summary>Size of the penultimate activations that <see cref="Features"/> returns.</summary>
    public long FeatureDimension => Head.in_features;

    /// <summary>Penultimate activations <c>[N, FeatureDimension]</c> for an input batch.</summary>
    /// <param name="input">An image batch <c>[N, C, H, W]</c>.</param>
    /// <returns>The features the head consumes.</returns>
    public abstract Tensor Features(Tensor input);

    /// <summary>Logits <c>[N, NumberOfClasses]</c>: <c>Head(Features(input))</c>; with a <see cref="PrototypeHead"/>,
    /// <c>PrototypeHead(Features(input))</c>, the log of the ensemble's probabilities (so the softmax of the output is
    /// exactly those probabilities).</summary>
    /// <param name="input">An image batch <c>[N, C, H, W]</c>.</param>
    /// <returns>Unnormalised class scores.</returns>
    public override Tensor forward(Tensor input)
        => PrototypeHead is { } prototypes ? prototypes.call(Features(input)) : Head.call(Features(input));

    /// <summary>Makes <paramref name="head"/> this network's last layer in place of <see cref="Head"/>, registered as the
    /// submodule <c>prototypes</c>; once only.</summary>
    /// <exception cref="InvalidOperationException">The network already has one.</exception>
    /// <exception cref="ArgumentException">The head's classes or feature size are not this network's.</exception>
    internal void AttachPrototypeHead(PrototypeEnsembleHead head)
    {
        ArgumentNullException.ThrowIfNull(head);
        if (PrototypeHead is not null)
            throw new InvalidOperationException("The network already has a prototype head.");
        if (head.Classes != NumberOfClasses || head.FeatureDimension != FeatureDimension)
            throw new ArgumentException($"The prototype head has {head.Classes} classes of {head.FeatureDimension} features; the network has {NumberOfClasses} of {FeatureDimension}.", nameof(head));
        register_module("prototypes", head);
        PrototypeHead = head;
    }
}
