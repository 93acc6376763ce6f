using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;
using MLNet.FlatDebias.Trainers.Fisher;

namespace MLNet.FlatDebias.Tests.Backend;

/// <summary>
/// The convolution guard's decisions, on any CPU: a fake backend (wrong where a test says) decides which paths are
/// tried and which is kept; a deliberately wrong kernel is caught by the real float32-against-float64 check; the guarded
/// layer is TorchSharp's <c>Conv2d</c> where the backend is right; every network the library builds uses it; and in this
/// process every shape a training computes was checked, and is computed directly unless the direct path was found wrong.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class ConvolutionGuardTests
{
    private static readonly ConvolutionShape EightOutputs = new(4, 8, (3, 3), (1, 1), (1, 1), (1, 1), (14, 14), 16, InputGradient: true);
    private static readonly ConvolutionShape Sixteens = new(16, 16, (3, 3), (1, 1), (1, 1), (1, 1), (8, 8), 16, InputGradient: true);

    [Fact]
    public void A_right_backend_keeps_every_shape_direct_and_checks_each_shape_once()
    {
        var backend = new FakeBackend((_, _) => false);
        var guard = new ConvolutionBackendGuard(backend, () => null);

        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(EightOutputs));
        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(EightOutputs));
        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(Sixteens));
        Assert.Equal([(EightOutputs, ConvolutionPath.Direct), (Sixteens, ConvolutionPath.Direct)], backend.Calls);
        Assert.False(guard.DefectFound);
        var report = guard.Report();
        Assert.Equal(2, report.Paths.Count);
        Assert.All(report.Checks, c => Assert.True(c.Passed));
    }

    [Fact]
    public void A_wrong_direct_kernel_is_computed_with_padded_channels_and_a_wrong_padded_one_unfolded()
    {
        // Direct wrong for partial channel blocks; padded wrong too where the input is large.
        var backend = new FakeBackend((shape, path) => path == ConvolutionPath.Direct && shape.OutputChannels % 16 != 0
                                                      || path == ConvolutionPath.PaddedChannels && shape.Input.Height > 10);
        var guard = new ConvolutionBackendGuard(backend, () => null);

        Assert.Equal(ConvolutionPath.PaddedChannels, guard.PathFor(EightOutputs with { Input = (8, 8) }));
        Assert.Equal(ConvolutionPath.Unfolded, guard.PathFor(EightOutputs));
        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(Sixteens));
        // Padding is no candidate where both channel counts are whole blocks: a wrong direct kernel goes straight to unfolded.
        var wholeBlocks = new FakeBackend((_, path) => path == ConvolutionPath.Direct);
        Assert.Equal(ConvolutionPath.Unfolded, new ConvolutionBackendGuard(wholeBlocks, () => null).PathFor(Sixteens));
        Assert.Equal([(Sixteens, ConvolutionPath.Direct), (Sixteens, ConvolutionPath.Unfolded)], wholeBlocks.Calls);
    }

    [Fact]
    public void A_shape_no_path_computes_right_throws_naming_the_operation_and_the_shape_every_time()
    {
        var backend = new FakeBackend((_, _) => true);
        var guard = new ConvolutionBackendGuard(backend, () => null);

        var first = Assert.Throws<InvalidOperationException>(() => guard.PathFor(EightOutputs));
        Assert.Contains("4->8 channels, 3x3 kernel, stride 1, padding 1, input 14x14, batch 16+, with input gradient", first.Message);
        Assert.Contains("the Direct path is wrong (backward by data (input gradient) 0.5)", first.Message);
        Assert.Contains("the PaddedChannels path is wrong", first.Message);
        Assert.Contains("the Unfolded path is wrong", first.Message);
        Assert.Contains("TorchRuntime.ConvolutionGuard = Off", first.Message);
        int checks = backend.Calls.Count;
        var second = Assert.Throws<InvalidOperationException>(() => guard.PathFor(EightOutputs));
        Assert.Equal(first.Message, second.Message);
        Assert.Equal(checks, backend.Calls.Count);
    }

    [Fact]
    public void Off_computes_directly_without_checking()
    {
        var backend = new FakeBackend((_, _) => true);
        var guard = new ConvolutionBackendGuard(backend, () => "off");
        Assert.Equal(ConvolutionGuardMode.Off, guard.Mode);
        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(EightOutputs));
        Assert.Empty(backend.Calls);
    }

    [Theory]
    [InlineData(null, ConvolutionGuardMode.Auto)]
    [InlineData("", ConvolutionGuardMode.Auto)]
    [InlineData("auto", ConvolutionGuardMode.Auto)]
    [InlineData(" OFF ", ConvolutionGuardMode.Off)]
    public void The_environment_variable_sets_the_mode(string? value, ConvolutionGuardMode expected)
        => Assert.Equal(expected, new ConvolutionBackendGuard(new FakeBackend((_, _) => false), () => value).Mode);

    [Fact]
    public void A_bad_environment_value_is_named_in_the_exception()
    {
        var guard = new ConvolutionBackendGuard(new FakeBackend((_, _) => false), () => "of");
        var e = Assert.Throws<InvalidOperationException>(() => guard.Mode);
        Assert.Contains("MLNET_FLATDEBIAS_CONVOLUTION_GUARD", e.Message);
        Assert.Contains("'of'", e.Message);
    }

    [Fact]
    public void A_deliberately_wrong_kernel_is_caught_by_the_float64_check_and_computed_around()
    {
        // The fake kernel is right forward and wrong backward by data where the output channels are a partial block (the
        // defect of libtorch 2.10's oneDNN on AVX-512): its input is x + (noise*x - (noise*x).detach()), which equals x
        // and scales the input gradient by 1 + noise. Everything else is the real check, on real tensors.
        ConvolutionCompute wrongDirect = (path, input, weight, bias, stride, padding, dilation) =>
        {
            if (path == ConvolutionPath.Direct && weight.shape[0] % 16 != 0)
            {
                using var generator = new Generator(5);
                var noise = rand(input.shape, generator: generator, dtype: input.dtype);
                input = input + (noise * input - (noise * input).detach());
            }
            return ConvolutionPaths.Compute(path, input, weight, bias, stride, padding, dilation);
        };
        var guard = new ConvolutionBackendGuard(new Float64ConvolutionCheck(wrongDirect), () => null);

        Assert.Equal(ConvolutionPath.PaddedChannels, guard.PathFor(EightOutputs));
        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(Sixteens));
        Assert.Equal(ConvolutionPath.Direct, guard.PathFor(EightOutputs with { InputGradient = false }));
        var direct = guard.Report().Checks.First();
        Assert.Equal((EightOutputs, ConvolutionPath.Direct), (direct.Shape, direct.Path));
        Assert.True(direct.InputGradientError > 0.1, direct.ToString());
        Assert.True(direct.ForwardError < Tolerance.BackendOperation && direct.WeightGradientError < Tolerance.BackendOperation, direct.ToString());
        Assert.True(guard.Report().Checks.Where(c => c != direct).All(c => c.Passed));
    }

    [Fact]
    public void A_network_of_the_users_own_with_TorchSharp_convolutions_is_refused_only_where_the_backend_is_defective()
    {
        using var users = new UserNetwork();
        var defective = new ConvolutionBackendGuard(new FakeBackend((shape, _) => shape == ConvolutionBackendGuard.InputGradientProbe), () => null);
        var e = Assert.Throws<InvalidOperationException>(() => defective.RequireGuarded(users, "FisherTrace.Full"));
        Assert.True(defective.DefectFound);
        Assert.Contains("FisherTrace.Full: layer 'conv' is a TorchSharp Conv2d (3 to 8 channels)", e.Message);
        Assert.Contains("GuardedConv2d", e.Message);

        new ConvolutionBackendGuard(new FakeBackend((_, _) => false), () => null).RequireGuarded(users, "FisherTrace.Full");
        using var library = new SmallCnn(2, new ImageShape(3, 28, 28), width: 4);
        defective.RequireGuarded(library, "FisherTrace.Full");
    }

    [Theory]
    [InlineData(3, 4, 3, 1, 1, true)]
    [InlineData(8, 24, 3, 2, 1, false)]
    [InlineData(24, 16, 1, 1, 0, false)]
    [InlineData(3, 64, 7, 2, 3, false)]
    public void GuardedConv2d_starts_and_computes_as_TorchSharps_Conv2d(int inputs, int outputs, int kernel, int stride, int padding, bool bias)
    {
        TorchRuntime.SetSeed(3);
        using var reference = nn.Conv2d(inputs, outputs, kernel, stride: stride, padding: padding, bias: bias);
        TorchRuntime.SetSeed(3);
        using var guarded = new GuardedConv2d(inputs, outputs, kernel, stride, padding, bias: bias);
        Assert.Equal(reference.state_dict().Keys.Order(), guarded.state_dict().Keys.Order());
        foreach (var (name, tensor) in reference.state_dict()) Assert.True(tensor.Identical(guarded.state_dict()[name]), name);

        using var x = randn(4, inputs, 16, 16);
        var mode = TorchRuntime.ConvolutionGuard;
        try
        {
            // Off: exactly Conv2d's call. On: the path checked for this machine, within rounding of it.
            TorchRuntime.ConvolutionGuard = ConvolutionGuardMode.Off;
            using (no_grad()) Assert.True(reference.call(x).Identical(guarded.call(x)));
            TorchRuntime.ConvolutionGuard = ConvolutionGuardMode.Auto;
            using var input = x.clone().requires_grad_(true);
            using var y = guarded.call(input);
            using var expected = nn.functional.conv2d(x.to(ScalarType.Float64), reference.weight.detach().to(ScalarType.Float64),
                reference.bias?.detach().to(ScalarType.Float64), [stride, stride], [padding, padding]);
            Assert.True(Float64ConvolutionCheck.Error(y, expected) < Tolerance.BackendOperation);
        }
        finally
        {
            TorchRuntime.ConvolutionGuard = mode;
        }
    }

    [Theory]
    [InlineData(NetworkKind.SmallCnn, 32)]
    [InlineData(NetworkKind.ResNet18, 64)]
    [InlineData(NetworkKind.ResNet34, 64)]
    [InlineData(NetworkKind.ResNet50, 64)]
    public void Every_convolution_the_library_builds_is_guarded(NetworkKind kind, int side)
    {
        using var network = NetworkFactory.Create(kind, 2, new ImageShape(3, side, side), width: 8);
        var convolutions = network.named_modules().Where(m => m.module is Convolution or StridedPointwiseConv2d).ToList();
        Assert.NotEmpty(convolutions);
        Assert.All(convolutions, m => Assert.True(m.module is GuardedConv2d or StridedPointwiseConv2d, $"{m.name} is a {m.module.GetType().Name}"));
        using var imageNet = ImageNetResNet18.Create(2, Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx"));
        Assert.DoesNotContain(imageNet.named_modules(), m => m.module is Conv2d);
    }

    [Fact]
    public void Every_shape_a_training_computes_was_checked_and_is_direct_unless_the_direct_path_failed()
    {
        var ml = new MLContext(0);
        var data = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.9, 1));
        var options = new ErmTrainer.Options { Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 1, BatchSize = 16, Seed = 0, Device = TrainingDevice.Cpu, Warnings = new Progress<string>() };
        using (ml.MulticlassClassification.Trainers.Erm(options).Fit(data)) { }

        var report = TorchRuntime.ConvolutionGuardReport;
        Assert.Equal(ConvolutionGuardMode.Auto, report.Mode);
        Assert.Contains(report.Paths.Keys, s => s is { InputChannels: 4, OutputChannels: 8, InputGradient: true, Batch: 16 });
        foreach (var (shape, path) in report.Paths)
        {
            Assert.Contains(report.Checks, c => c.Shape == shape && c.Path == path && c.Passed);
            // A path other than the direct one only where the direct one was checked and found wrong.
            if (path != ConvolutionPath.Direct) Assert.Contains(report.Checks, c => c.Shape == shape && c.Path == ConvolutionPath.Direct && !c.Passed);
        }
    }

    [Fact]
    public void NNPACK_is_off_so_that_libtorch_never_asks_for_it()
    {
        Assert.True(TorchRuntime.NnpackDisabled);
    }

    /// <summary>A backend that is wrong (input gradient off by 0.5) where <paramref name="wrong"/> says, and records its calls.</summary>
    private sealed class FakeBackend(Func<ConvolutionShape, ConvolutionPath, bool> wrong) : IConvolutionBackendCheck
    {
        public List<(ConvolutionShape, ConvolutionPath)> Calls { get; } = [];

        public ConvolutionCheck Check(ConvolutionShape shape, ConvolutionPath path)
        {
            Calls.Add((shape, path));
            double input = wrong(shape, path) ? 0.5 : 1e-7;
            return new ConvolutionCheck(shape, path, 1e-7, shape.InputGradient ? input : null, wrong(shape, path) && !shape.InputGradient ? 0.5 : 1e-7,
                null, [1], Float64ConvolutionCheck.Tolerance, 0);
        }
    }

    /// <summary>A network of a user's own, with TorchSharp's Conv2d.</summary>
    private sealed class UserNetwork : ClassifierNetwork
    {
#pragma warning disable IDE1006
        private readonly Conv2d conv;
        private readonly Linear fc;
#pragma warning restore IDE1006

        public UserNetwork() : base("user", new ImageShape(3, 8, 8), 2)
        {
            conv = nn.Conv2d(3, 8, 3, padding: 1);
            fc = nn.Linear(8, 2);
            RegisterComponents();
        }

        public override Linear Head => fc;

        public override Tensor Features(Tensor input) => nn.functional.adaptive_avg_pool2d(conv.call(input), 1).flatten(1);
    }
}
