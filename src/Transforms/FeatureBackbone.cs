using System.Globalization;
using System.Security.Cryptography;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// A frozen network whose penultimate activations (<see cref="ClassifierNetwork.Features"/>) serve as features: the
/// backbone of <see cref="PretrainedFeaturesEstimator"/>. Its head is never used.
/// </summary>
/// <remarks>
/// <para>Three sources: the built-in ImageNet ResNet-18 (<see cref="ImageNetResNet18"/>), one of this library's
/// networks with weights from a PyTorch state dictionary (<see cref="FromPretrainedWeights"/>), and any network
/// of this library's kinds you built or trained yourself (<see cref="FromNetwork"/>).</para>
/// <para><see cref="Fingerprint"/> names the backbone by its kind, input shape and a SHA-256 of its weights, so a
/// feature file made with other weights is never mistaken for this backbone's (<see cref="FeatureFile"/>).</para>
/// </remarks>
public sealed class FeatureBackbone : IDisposable
{
    private readonly bool _ownsNetwork;
    private string? _fingerprint;

    private FeatureBackbone(ClassifierNetwork network, string name, bool ownsNetwork)
    {
        Network = network;
        Name = name;
        _ownsNetwork = ownsNetwork;
        network.eval();
    }

    /// <summary>The network; only its <see cref="ClassifierNetwork.Features"/> part is used, in evaluation mode.</summary>
    public ClassifierNetwork Network { get; }

    /// <summary>A readable name (e.g. <c>ImageNet ResNet-18</c>).</summary>
    public string Name { get; }

    /// <summary>The image shape the backbone takes: <c>[C, H, W]</c>, the size of its input vector column.</summary>
    public ImageShape InputShape => Network.InputShape;

    /// <summary>Number of features per image: the width of the output vector column (512 for a ResNet-18).</summary>
    public int FeatureDimension => checked((int)Network.FeatureDimension);

    /// <summary>The backbone's identity: its name, network type, input shape, feature size and the SHA-256 of its
    /// weights (every state-dictionary entry but the unused head's, by name, in order). Computed once, on first use.</summary>
    public string Fingerprint => _fingerprint ??= string.Create(CultureInfo.InvariantCulture,
        $"{Name}; {Network.GetType().Name}; input {InputShape}; features {FeatureDimension}; weights sha256 {WeightsHash(Network)}");

    /// <summary>
    /// The ImageNet-trained ResNet-18 of the NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (see
    /// <see cref="Trainers.Networks.ImageNetResNet18"/>): 512 features after global average pooling, on
    /// ImageNet-normalised RGB input as <c>ImageNetPreprocessing</c> makes it.
    /// </summary>
    /// <param name="onnxPath">The package's <c>ResNet18.onnx</c>, or null (default) to look for it where the package puts it.</param>
    /// <param name="inputShape">Image shape (default 3x224x224, the size the weights were trained at); 3 channels, a
    /// multiple of 32 for the weights to match CNTK's padding exactly.</param>
    /// <returns>The backbone; dispose it when done.</returns>
    /// <exception cref="FileNotFoundException">The model file was not found; the message names the package to reference.</exception>
    public static FeatureBackbone ImageNetResNet18(string? onnxPath = null, ImageShape? inputShape = null)
    {
        var network = Trainers.Networks.ImageNetResNet18.Create(2, onnxPath, ImageNetInputConvention.Normalized, inputShape);
        return new FeatureBackbone(network, "ImageNet ResNet-18", ownsNetwork: true);
    }

    /// <summary>
    /// One of this library's networks with weights from a PyTorch state dictionary (<c>.pth</c>, <c>.pt</c>,
    /// <c>.safetensors</c>; torchvision's names), e.g. torchvision's ImageNet ResNet-50. The file's head (<c>fc.*</c>,
    /// of any number of classes) is read but not used.
    /// </summary>
    /// <param name="kind">The network family (<see cref="NetworkKind.ResNet50"/> for torchvision's <c>resnet50</c>).</param>
    /// <param name="weightsPath">The state-dictionary file.</param>
    /// <param name="inputShape">The image shape, e.g. 3x224x224.</param>
    /// <param name="width">The network's width setting (see <see cref="NetworkFactory.Create"/>); null (default) for its default.</param>
    /// <returns>The backbone; dispose it when done.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file's names or shapes do not match the network (the message lists them).</exception>
    public static FeatureBackbone FromPretrainedWeights(NetworkKind kind, string weightsPath, ImageShape inputShape, int? width = null)
    {
        ArgumentNullException.ThrowIfNull(weightsPath);
        inputShape.Validate(nameof(inputShape));
        TorchRuntime.EnsureLoaded();
        var network = NetworkFactory.Create(kind, 2, inputShape, width);
        try
        {
            PretrainedWeights.Load(network, weightsPath);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return new FeatureBackbone(network, $"{kind} from {Path.GetFileName(weightsPath)}", ownsNetwork: true);
    }

    /// <summary>
    /// A network you built or trained (a <see cref="ResNet"/>, <see cref="SmallCnn"/>, <see cref="Mlp"/> or
    /// <see cref="LinearClassifier"/>, e.g. the
    /// network of a fitted model, <c>ClassifierNetworkTransformer.Network</c>). The backbone uses it as it is and does
    /// not dispose it; it is put in evaluation mode. Do not change its weights while the backbone is in use: the
    /// <see cref="Fingerprint"/> is computed once.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="name">A readable name for messages and fingerprints.</param>
    /// <returns>The backbone.</returns>
    /// <exception cref="NotSupportedException">The network's type cannot be written as ONNX (the saved form of the
    /// feature step); the message names the type.</exception>
    public static FeatureBackbone FromNetwork(ClassifierNetwork network, string name)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        NetworkMetadata.KindOf(network); // throws NotSupportedException for a type the ONNX writer does not know
        return new FeatureBackbone(network, name, ownsNetwork: false);
    }

    /// <summary>
    /// Writes the backbone's feature part as an ONNX model (no head): input <c>input</c>, float
    /// <c>[N, C, H, W]</c>; output <c>features</c>, float <c>[N, FeatureDimension]</c>.
    /// </summary>
    /// <param name="destination">A writable stream, left open.</param>
    public void ExportOnnx(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite) throw new ArgumentException("The destination stream is not writable.", nameof(destination));
        var bytes = OnnxFeatureExport.BatchForm(Network, "input", "features");
        destination.Write(bytes);
        destination.Flush();
    }

    /// <summary>Penultimate features of a batch, in evaluation mode without gradients (TorchSharp).</summary>
    /// <param name="images">Images <c>[N, C, H, W]</c> (or <c>[N, C*H*W]</c>), float32, on the backbone's device.</param>
    /// <returns><c>[N, FeatureDimension]</c>.</returns>
    public Tensor Extract(Tensor images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var shape = InputShape;
        using var noGrad = no_grad();
        Network.eval();
        return Network.Features(images.reshape(-1, shape.Channels, shape.Height, shape.Width));
    }

    /// <summary>The row form ML.NET's <c>ApplyOnnxModel</c> takes (see <see cref="OnnxFeatureExport.RowForm"/>).</summary>
    internal byte[] RowFormOnnx(string inputName, string outputName) => OnnxFeatureExport.RowForm(Network, inputName, outputName);

    /// <summary>Disposes the network when the backbone created it (not one given to <see cref="FromNetwork"/>).</summary>
    public void Dispose()
    {
        if (_ownsNetwork) Network.Dispose();
    }

    private static string WeightsHash(ClassifierNetwork network)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var scope = NewDisposeScope();
        // The head is never used (and is randomly initialised for the built-in backbones): it is not part of the identity.
        var head = network.named_modules().FirstOrDefault(m => ReferenceEquals(m.module, network.Head)).name;
        foreach (var (name, tensor) in network.state_dict())
        {
            if (!string.IsNullOrEmpty(head) && name.StartsWith(head + ".", StringComparison.Ordinal)) continue;
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name));
            var cpu = tensor.detach().cpu().contiguous();
            sha.AppendData(cpu.bytes.ToArray());
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
