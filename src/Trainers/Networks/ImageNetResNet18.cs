using MLNet.FlatDebias.Trainers.Onnx;
using Onnx;
using static TorchSharp.torch;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// The ImageNet-trained ResNet-18 that ships in the NuGet package <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>
/// (MIT), loaded into a <see cref="ResNet"/> with a new head: the only ImageNet weights reachable without
/// downloading a PyTorch file.
/// </summary>
/// <remarks>
/// <para>The file is a CNTK export (opset 8): a torchvision-style ResNet with BasicBlocks <b>[2, 2, 2, 3]</b> (layer4
/// has three blocks, unlike torchvision's ResNet-18), batch norm with epsilon 1e-5, convolutions without bias, and
/// no fully connected layer. Its 110 tensors are mapped onto our state-dictionary names by following the graph
/// (stem, then each block's two convolutions, batch norms and optional projection), not by file order. The
/// returned network's head (<c>fc</c>) is randomly initialised.</para>
/// <para>The network is built for 3x224x224 images. CNTK pads its stride-2 layers one less at the end; that equals
/// our symmetric padding whenever every stride-2 layer sees an even size, as at 224 (and any multiple of 32).</para>
/// <para>With <see cref="ImageNetInputConvention.Normalized"/> (the default) the network takes this library's
/// ImageNet-normalised RGB input <c>x = (p - mean) / std</c>, <c>p</c> on [0, 1]. CNTK's input is
/// <c>c = 255 p[BGR] - M</c> with a per-pixel mean image <c>M</c>. Substituting <c>p = std x + mean</c>,
/// <c>conv1(c) = conv1'(x) + conv1(255 mean[BGR] - M)</c>, where <c>conv1'</c> has its input channels reordered
/// RGB→BGR and scaled by <c>255 std</c>. The second term is folded into <c>bn1</c>'s running mean, with two
/// approximations: <c>M</c> is replaced by its channel means (the mean image varies by a few units around them:
/// per-channel standard deviation 3-6 on the 0-255 scale), and the term is computed for the interior, so along the
/// zero-padded border our network sees CNTK's padding shifted by <c>255 mean - channel mean</c> (0.4-0.5 on the
/// 0-255 scale). Measured on the 512 features against ONNX Runtime running the original file on the same random
/// images (<c>ImageNetResNet18Tests</c>, largest feature 11.4): against CNTK's full preprocessing (per-pixel mean
/// image) the largest difference is 5.7% of the largest feature and the mean difference 0.26%; against CNTK given
/// the mean image's channel means (the border effect alone) 2.5e-4; away from the border the stem's batch-norm
/// output agrees to 7e-7. Fine-tuning absorbs the difference; for CNTK's exact features use
/// <see cref="ImageNetInputConvention.Cntk"/> with CNTK's preprocessing.</para>
/// </remarks>
public static class ImageNetResNet18
{
    /// <summary>The NuGet package that ships the model.</summary>
    public const string PackageId = "Microsoft.ML.DnnImageFeaturizer.ResNet18";

    /// <summary>The package version this library references and tests (0.24.0; 0.23.1 ships the same <c>ResNet18.onnx</c>,
    /// SHA-256 e2552f19..., and is looked for too).</summary>
    public const string PackageVersion = "0.24.0";

    /// <summary>Versions of the package that ship the same model file, newest first.</summary>
    private static readonly string[] SameFileVersions = [PackageVersion, "0.23.1"];

    /// <summary>Where a project that references the package finds the model, relative to its output folder.</summary>
    public static readonly string RelativeModelPath = Path.Combine("DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    /// <summary>The image shape the network is built for: 3x224x224.</summary>
    public static readonly ImageShape InputShape = new(3, 224, 224);

    /// <summary>Channel means of CNTK's mean image (<c>ResNetPreprocess.onnx</c>, <c>MeanImage</c>), blue, green, red, on 0-255.</summary>
    internal static readonly double[] CntkChannelMeanBgr = [103.06262, 115.902885, 123.151634];

    // ImageNet statistics on the [0, 1] scale, red, green, blue (the library's normalisation).

    /// <summary>Builds a <see cref="ResNet"/> with the ImageNet weights and a new, randomly initialised head.</summary>
    /// <param name="numberOfClasses">Classes of the new head (at least 2).</param>
    /// <param name="onnxPath">The <c>ResNet18.onnx</c> file, or null (default) to look for it (see <see cref="FindModel"/>).</param>
    /// <param name="convention">The input the network will take (default <see cref="ImageNetInputConvention.Normalized"/>).</param>
    /// <param name="inputShape">The image shape the network is built for (default 3x224x224). Three channels; the
    /// weights match CNTK's exactly when every stride-2 layer sees an even size (a multiple of 32).</param>
    /// <returns>A ResNet with BasicBlocks [2, 2, 2, 3], width 64, on the CPU, in training mode.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numberOfClasses"/> is below 2.</exception>
    /// <exception cref="ArgumentException"><paramref name="inputShape"/> does not have 3 channels.</exception>
    /// <exception cref="FileNotFoundException">The file was not found; the message names the NuGet package to reference.</exception>
    /// <exception cref="InvalidDataException">The file is not readable or its graph does not map onto a ResNet (the
    /// message says where).</exception>
    public static ResNet Create(int numberOfClasses, string? onnxPath = null, ImageNetInputConvention convention = ImageNetInputConvention.Normalized,
        ImageShape? inputShape = null)
    {
        var shape = inputShape ?? InputShape;
        if (shape.Channels != 3)
            throw new ArgumentException($"The ImageNet ResNet-18 takes RGB images (3 channels); the input shape is {shape}.", nameof(inputShape));
        if (numberOfClasses < 2)
            throw new ArgumentOutOfRangeException(nameof(numberOfClasses), numberOfClasses, "A classifier needs at least 2 classes.");
        if (!Enum.IsDefined(convention)) throw new ArgumentOutOfRangeException(nameof(convention), convention, "Unknown input convention.");
        var path = FindModel(onnxPath);
        ModelProto model;
        using (var stream = File.OpenRead(path)) model = OnnxModelReader.Read(stream);
        var graph = CntkResNetGraph.Map(model);
        TorchRuntime.EnsureLoaded();

        var network = new ResNet("resnet18_cntk", false, graph.BlocksPerStage, numberOfClasses, shape, graph.Width);
        try
        {
            Load(network, graph, path);
            if (convention == ImageNetInputConvention.Normalized) FoldNormalization(network);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        return network;
    }

    /// <summary>
    /// Finds <c>ResNet18.onnx</c>: <paramref name="onnxPath"/> when given; else <see cref="RelativeModelPath"/> under
    /// the application folder (where the package copies it); else the package in the NuGet cache
    /// (<c>NUGET_PACKAGES</c>, or <c>~/.nuget/packages</c>).
    /// </summary>
    /// <param name="onnxPath">An explicit path, or null.</param>
    /// <returns>The full path of an existing file.</returns>
    /// <exception cref="FileNotFoundException">No file was found; the message names the package to reference.</exception>
    public static string FindModel(string? onnxPath = null)
    {
        if (onnxPath is not null)
        {
            return File.Exists(onnxPath)
                ? Path.GetFullPath(onnxPath)
                : throw new FileNotFoundException($"The ImageNet ResNet-18 model file '{onnxPath}' does not exist.", onnxPath);
        }
        var candidates = new List<string> { Path.Combine(AppContext.BaseDirectory, RelativeModelPath) };
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrEmpty(cache))
            cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        candidates.AddRange(SameFileVersions.Select(v => Path.Combine(cache, PackageId.ToLowerInvariant(), v, "tools", RelativeModelPath)));
        return candidates.FirstOrDefault(File.Exists) ?? throw new FileNotFoundException(
            $"The ImageNet ResNet-18 model was not found (looked in {string.Join(" and ", candidates.Select(c => $"'{c}'"))}). " +
            $"Reference the NuGet package {PackageId} {PackageVersion} from the application (it copies {RelativeModelPath} " +
            "to the output folder), or pass the path of ResNet18.onnx.", candidates[0]);
    }

    private static void Load(ResNet network, CntkResNetGraph graph, string path)
    {
        var target = network.state_dict();
        var expected = target.Keys
            .Where(k => !k.StartsWith("fc.", StringComparison.Ordinal) && !k.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
        var missing = expected.Where(k => !graph.State.ContainsKey(k)).ToList();
        var extra = graph.State.Keys.Where(k => !expected.Contains(k)).ToList();
        if (missing.Count + extra.Count > 0)
            throw new InvalidDataException($"The graph of '{path}' does not map onto a ResNet with blocks [{string.Join(", ", graph.BlocksPerStage)}]: " +
                $"missing {string.Join(", ", missing.DefaultIfEmpty("none"))}; unexpected {string.Join(", ", extra.DefaultIfEmpty("none"))}.");

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var key in expected)
        {
            var source = OnnxTensors.ToTensor(graph.State[key]);
            if (!source.shape.SequenceEqual(target[key].shape))
                throw new InvalidDataException($"Tensor '{graph.State[key].Name}' of '{path}' maps to '{key}' with shape " +
                    $"[{string.Join(", ", source.shape)}]; the network has [{string.Join(", ", target[key].shape)}].");
            target[key].copy_(source);
        }
    }

    // See the remarks: conv1' = conv1 with input channels RGB (from BGR) scaled by 255 std; bn1's running mean
    // absorbs conv1 applied to the constant image 255 mean[BGR] - CNTK's channel means.
    private static void FoldNormalization(ResNet network)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var state = network.state_dict();
        var weight = state["conv1.weight"];
        var original = weight.to_type(ScalarType.Float64);               // [out, BGR, 7, 7]
        var rgbFromBgr = tensor(new long[] { 2, 1, 0 });
        var scale = tensor(Common.ImageNetNormalization.Std.Select(s => 255.0 * s).ToArray(), ScalarType.Float64).reshape(1, 3, 1, 1);
        weight.copy_((original.index_select(1, rgbFromBgr) * scale).to_type(weight.dtype));

        var offsetBgr = tensor(Enumerable.Range(0, 3).Select(k => 255.0 * Common.ImageNetNormalization.Mean[2 - k] - CntkChannelMeanBgr[k]).ToArray(), ScalarType.Float64);
        var offset = (original.sum([2L, 3L]) * offsetBgr.reshape(1, 3)).sum(1);  // conv1 of the constant image, per output channel
        var runningMean = state["bn1.running_mean"];
        runningMean.copy_((runningMean.to_type(ScalarType.Float64) - offset).to_type(runningMean.dtype));
    }
}
