using System.Collections.Concurrent;
using System.Globalization;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Backend;

/// <summary>
/// The numerical backend against float64, operation by operation, at every shape the library's networks build for the
/// widths and image sizes the tests, examples and benchmarks use and at odd widths (<see cref="BackendNetwork"/>):
/// convolution forward, backward by data, backward by weights and second-order gradients (as the networks compute them,
/// through the convolution guard), batch norm in training and evaluation, ReLU and pooling, linear layers with
/// cross-entropy, the per-sample trace's per-layer gradient norms; then whole networks' gradients and traces. Each check
/// runs at one thread and at the process's thread count. A wrong backend fails the test named after the operation, with the layer and shape in the
/// message. Where oneDNN's kernels have the known defects (its AVX-512 kernels, and its AVX2 ones under
/// <c>DNNL_MAX_CPU_ISA=AVX2</c>), the convolution guard computes around them and everything passes;
/// <c>MLNET_FLATDEBIAS_CONVOLUTION_GUARD=off</c> shows what it protects against.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class BackendCorrectnessTests
{
    private static readonly ConcurrentDictionary<string, List<ConvolutionErrors>> ConvolutionResults = new();

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Convolution_forward_matches_float64(string network)
        => AssertWithin(network, "convolution forward", ConvolutionResultsOf(network).Select(r => (r.Where, r.Forward)), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Convolution_backward_by_data_matches_float64(string network)
        => AssertWithin(network, "convolution backward by data (input gradient)", ConvolutionResultsOf(network).Select(r => (r.Where, r.InputGradient)), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Convolution_backward_by_weights_matches_float64(string network)
        => AssertWithin(network, "convolution backward by weights (weight and bias gradients)", ConvolutionResultsOf(network).Select(r => (r.Where, r.WeightGradient)), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Convolution_second_order_gradients_match_float64(string network)
        => AssertWithin(network, "convolution second-order gradients (the trace penalty's double backward)", ConvolutionResultsOf(network).Select(r => (r.Where, r.SecondOrder)), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Batch_norm_in_training_matches_float64(string network)
        => AssertWithin(network, "batch norm in training (output, gradients, running statistics)", BatchNormErrors(network, training: true), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Batch_norm_in_evaluation_matches_float64(string network)
        => AssertWithin(network, "batch norm in evaluation (output, gradients)", BatchNormErrors(network, training: false), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.ConvolutionalNames), MemberType = typeof(BackendNetwork))]
    public void Relu_and_pooling_match_float64(string network)
        => AssertWithin(network, "ReLU and pooling (output, input gradient)", PoolingErrors(network), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.Names), MemberType = typeof(BackendNetwork))]
    public void Linear_and_cross_entropy_match_float64(string network)
        => AssertWithin(network, "linear layer with cross-entropy (logits, loss, gradients)", LinearErrors(network), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.Names), MemberType = typeof(BackendNetwork))]
    public void Per_sample_trace_layer_norms_match_float64(string network)
        => AssertWithin(network, "per-sample trace layer gradient norms (the fast trace path's closed forms)", LayerNormErrors(network), Tolerance.BackendOperation);

    [Theory]
    [MemberData(nameof(BackendNetwork.TraceableNames), MemberType = typeof(BackendNetwork))]
    public void Whole_network_gradients_and_traces_match_float64(string network)
    {
        // ReLU and max pooling have kinks: where two activations are closer than float32 rounding, float32 and float64 may
        // order them differently and route a gradient elsewhere, which is no error of the backend. A defect is
        // systematic, a tie is not: the network passes when one of three input draws agrees everywhere.
        var attempts = new List<List<(string Where, double Error)>>();
        for (int draw = 0; draw < 3; draw++)
        {
            var errors = NetworkErrors(network, draw);
            if (errors.All(e => e.Error <= Tolerance.BackendNetwork)) return;
            attempts.Add(errors);
        }
        AssertWithin(network, "whole-network gradients and per-sample traces (every one of three input draws)", attempts.SelectMany(a => a), Tolerance.BackendNetwork);
    }

    private static void AssertWithin(string network, string operation, IEnumerable<(string Where, double Error)> errors, double tolerance)
    {
        var all = errors.ToList();
        Assert.NotEmpty(all);
        var wrong = all.Where(e => !(e.Error <= tolerance)).ToList();
        Assert.True(wrong.Count == 0, string.Create(CultureInfo.InvariantCulture,
            $"The backend computes {operation} wrong on this CPU ({CpuDescription.Current}) in {network}, {wrong.Count} of {all.Count} checks " +
            $"(normwise relative error against float64 > {tolerance:G3}):\n") + string.Join("\n", wrong.Select(w => string.Create(CultureInfo.InvariantCulture, $"  {w.Where}: {w.Error:G3}"))));
    }

    // ---- convolutions: computed by the network's own modules (the guard's path), against float64 conv2d ----

    private sealed record ConvolutionErrors(string Where, double Forward, double InputGradient, double WeightGradient, double SecondOrder);

    private static List<ConvolutionErrors> ConvolutionResultsOf(string name) => ConvolutionResults.GetOrAdd(name, _ =>
    {
        var config = BackendNetwork.Get(name);
        using var network = config.Build();
        network.train();
        var calls = Distinct(BackendNetwork.Record(network, config.Inputs(config.Batch, 1)).Where(c => c.Module is GuardedConv2d or StridedPointwiseConv2d));
        return AtEachThreadCount(threads => calls.Select(call => CheckConvolution(call, threads)).ToList());
    });

    private static ConvolutionErrors CheckConvolution(LayerCall call, int threads)
    {
        using var scope = NewDisposeScope();
        var (weight, bias, stride, padding, dilation) = call.Module switch
        {
            GuardedConv2d c => (c.weight, c.bias, c.stride, c.padding!, c.dilation),
            StridedPointwiseConv2d p => ((Tensor)p.Weight, (Tensor?)null, new[] { p.Stride, p.Stride }, new long[] { 0, 0 }, new long[] { 1, 1 }),
            _ => throw new ArgumentException(call.Name),
        };
        var module = (nn.Module<Tensor, Tensor>)call.Module;
        using var generator = new Generator(7);
        var x = randn(call.InputShape, generator: generator);
        var g = randn(call.OutputShape, generator: generator);
        // The network's own module (the guard's path), first and second order; the reference: float64, and for the
        // strided 1x1 layer the strided convolution itself (not its subsample form).
        var single = Run(x, weight, bias, g, t => module.call(t.x), secondOrder: false, moduleCall: true);
        var doubled = Run(x, weight, bias, g, t => module.call(t.x), secondOrder: true, moduleCall: true);
        var x64 = x.to(ScalarType.Float64);
        var w64 = weight.detach().to(ScalarType.Float64);
        var b64 = bias?.detach().to(ScalarType.Float64);
        var reference = Run(x64, w64, b64, g.to(ScalarType.Float64), t => nn.functional.conv2d(t.x, t.w, t.b, stride, padding, dilation), secondOrder: true, moduleCall: false);

        var shape = ConvolutionShape.Of(call.InputShape, weight.shape, stride, padding, dilation, inputGradient: true);
        string where = $"{call.Describe()} [{shape}], {threads} thread(s)";
        double weights = Error(single.Gradients[1], reference.Gradients[1]);
        if (bias is not null) weights = Math.Max(weights, Error(single.Gradients[2], reference.Gradients[2]));
        double second = doubled.Second.Select((t, i) => Error(t, reference.Second[i])).Max();
        return new ConvolutionErrors(where, Error(single.Output, reference.Output), Error(single.Gradients[0], reference.Gradients[0]), weights, second);
    }

    /// <summary>Output, first-order gradients (input, weight, bias) and, when asked, the gradients of their summed squares
    /// with respect to input, weight and output gradient: every term of a convolution's double backward. A module's call
    /// uses its own parameters; the reference gets leaves of its own.</summary>
    private static (Tensor Output, Tensor[] Gradients, Tensor[] Second) Run(Tensor x, Tensor weight, Tensor? bias, Tensor g,
        Func<(Tensor x, Tensor w, Tensor? b), Tensor> compute, bool secondOrder, bool moduleCall)
    {
        var xs = x.detach().requires_grad_(true);
        var ws = moduleCall ? weight : weight.detach().requires_grad_(true);
        var bs = moduleCall ? bias : bias?.detach().requires_grad_(true);
        var gs = g.detach().requires_grad_(secondOrder);
        Tensor output;
        using (ConvolutionBackendGuard.SecondOrder(secondOrder)) output = compute((xs, ws, bs));
        Tensor[] wrt = bs is null ? [xs, ws] : [xs, ws, bs];
        var first = autograd.grad([output], wrt, [gs], retain_graph: secondOrder, create_graph: secondOrder);
        if (!secondOrder) return (output.detach(), [.. first], []);
        var penalty = first.Select(t => t.square().sum()).Aggregate((a, b) => a + b);
        Tensor[] all = [xs, ws, gs];
        var second = autograd.grad([penalty], all, allow_unused: true);
        return (output.detach(), [.. first.Select(t => t.detach())], [.. second.Select((t, i) => t is null || t.IsInvalid ? zeros_like(all[i]) : t)]);
    }

    // ---- batch norm, pooling, linear: the functional operations the modules call, on each recorded shape ----

    private static IEnumerable<(string, double)> BatchNormErrors(string name, bool training)
    {
        var calls = Distinct(RecordedCalls(name).Where(c => c.Module is BatchNorm2d or BatchNorm1d));
        return AtEachThreadCount(threads => calls.SelectMany(call =>
        {
            using var scope = NewDisposeScope();
            using var generator = new Generator(11);
            long channels = call.InputShape[1];
            var x = randn(call.InputShape, generator: generator) * 2 + 0.5;
            var weight = 1 + 0.1 * randn([channels], generator: generator);
            var bias = 0.1 * randn([channels], generator: generator);
            var mean = 0.1 * randn([channels], generator: generator);
            var variance = 0.5 + rand([channels], generator: generator);
            var g = randn(call.InputShape, generator: generator);
            var single = Run(ScalarType.Float32);
            var reference = Run(ScalarType.Float64);
            string where = $"{call.Describe()}, {threads} thread(s)";
            return single.Select((t, i) => ($"{where}, {Names[i]}", Error(t, reference[i]))).ToList();

            Tensor[] Run(ScalarType type)
            {
                var xs = x.to(type).requires_grad_(true);
                var ws = weight.to(type).requires_grad_(true);
                var bs = bias.to(type).requires_grad_(true);
                var runningMean = mean.to(type).clone(); // updated in place in training
                var runningVariance = variance.to(type).clone();
                var y = nn.functional.batch_norm(xs, runningMean, runningVariance, ws, bs, training, 0.1, 1e-5);
                var grads = autograd.grad([y], [xs, ws, bs], [g.to(type)]);
                return training ? [y, grads[0], grads[1], grads[2], runningMean, runningVariance] : [y, grads[0], grads[1], grads[2]];
            }
        }).ToList());
    }

    private static readonly string[] Names = ["output", "input gradient", "weight gradient", "bias gradient", "running mean", "running variance"];

    private static IEnumerable<(string, double)> PoolingErrors(string name)
    {
        // Feature maps: every batch-norm output (what ReLU and the poolings of SmallCnn and the ResNets take).
        var maps = Distinct(RecordedCalls(name).Where(c => c.Module is BatchNorm2d));
        (string Name, Func<Tensor, Tensor> Op)[] operations =
        [
            ("ReLU", t => nn.functional.relu(t)),
            ("max pool 2x2", t => nn.functional.max_pool2d(t, 2)),
            ("max pool 3x3 stride 2 padding 1", t => nn.functional.max_pool2d(t, 3, 2, 1)),
            ("global average pool", t => nn.functional.adaptive_avg_pool2d(t, 1)),
        ];
        return AtEachThreadCount(threads => maps.SelectMany(call => operations.Where(o => Fits(o.Name, call.InputShape)).SelectMany(operation =>
        {
            using var scope = NewDisposeScope();
            using var generator = new Generator(13);
            // Distinct values: a tie in a max pool may be broken differently by two kernels, which is no error.
            long count = call.InputShape.Aggregate(1L, (a, b) => a * b);
            var x = (randperm(count, generator: generator).to(ScalarType.Float32) / count * 4 - 2).reshape(call.InputShape);
            var x32 = x.requires_grad_(true);
            var y = operation.Op(x32);
            var g = randn(y.shape, generator: generator);
            var gx = autograd.grad([y], [x32], [g])[0];
            var x64 = x.detach().to(ScalarType.Float64).requires_grad_(true);
            var y64 = operation.Op(x64);
            var gx64 = autograd.grad([y64], [x64], [g.to(ScalarType.Float64)])[0];
            string where = $"{operation.Name} on {call.Describe()} output, {threads} thread(s)";
            return new[] { ($"{where}, output", Error(y, y64)), ($"{where}, input gradient", Error(gx, gx64)) };
        })).ToList());

        static bool Fits(string operation, long[] shape) => !operation.StartsWith("max pool 2x2", StringComparison.Ordinal) || (shape[2] >= 2 && shape[3] >= 2);
    }

    private static IEnumerable<(string, double)> LinearErrors(string name)
    {
        var calls = Distinct(RecordedCalls(name).Where(c => c.Module is Linear));
        return AtEachThreadCount(threads => calls.SelectMany(call =>
        {
            using var scope = NewDisposeScope();
            using var generator = new Generator(17);
            long inputs = call.InputShape[1], outputs = call.OutputShape[1];
            var x = randn(call.InputShape, generator: generator);
            var weight = randn([outputs, inputs], generator: generator) / Math.Sqrt(inputs);
            var bias = 0.1 * randn([outputs], generator: generator);
            var labels = randint(0, call.OutputShape[1], [call.InputShape[0]], generator: generator, dtype: ScalarType.Int64);
            var single = Run(ScalarType.Float32);
            var reference = Run(ScalarType.Float64);
            string where = $"{call.Describe()}, {threads} thread(s)";
            string[] parts = ["logits", "loss", "input gradient", "weight gradient", "bias gradient"];
            return single.Select((t, i) => ($"{where}, {parts[i]}", Error(t, reference[i]))).ToList();

            Tensor[] Run(ScalarType type)
            {
                var xs = x.to(type).requires_grad_(true);
                var w = weight.to(type).requires_grad_(true);
                var b = bias.to(type).requires_grad_(true);
                var logits = nn.functional.linear(xs, w, b);
                var loss = nn.functional.cross_entropy(logits, labels);
                var grads = autograd.grad([loss], [xs, w, b]);
                return [logits, loss, grads[0], grads[1], grads[2]];
            }
        }).ToList());
    }

    // ---- the fast trace path's per-layer closed forms, on each recorded layer ----

    private static IEnumerable<(string, double)> LayerNormErrors(string name)
    {
        var config = BackendNetwork.Get(name);
        using var network = config.Build();
        using var copy = config.Float64CopyOf(network);
        network.eval();
        copy.eval();
        var inputs = config.Inputs(config.Batch, 1);
        var calls = BackendNetwork.Record(network, inputs);
        var references = BackendNetwork.Record(copy, inputs.to(ScalarType.Float64)).ToDictionary(c => c.Name);
        var layers = calls.Where(c => c.Module is GuardedConv2d or StridedPointwiseConv2d or Linear or BatchNorm2d).GroupBy(c => c.Name).Select(g => g.First()).ToList();
        var errors = AtEachThreadCount(threads => layers.Select(call =>
        {
            using var scope = NewDisposeScope();
            using var generator = new Generator(19);
            var input = randn(call.InputShape, generator: generator);
            var outputGradient = randn(call.OutputShape, generator: generator);
            var single = LayerGradientNorms.ForLayer(call.Module, input, outputGradient)!;
            var reference = LayerGradientNorms.ForLayer(references[call.Name].Module, input.to(ScalarType.Float64), outputGradient.to(ScalarType.Float64))!;
            return ($"{call.Describe()}, {threads} thread(s)", Error(single, reference));
        }).ToList());
        // The head's closed form, on moderate logits.
        using var generator = new Generator(23);
        var features = randn([config.Batch, network.FeatureDimension], generator: generator);
        var logits = randn([config.Batch, 3L], generator: generator);
        var labels = arange(config.Batch, dtype: ScalarType.Int64) % 3;
        foreach (var estimator in new[] { TraceEstimator.Exact, TraceEstimator.Empirical })
            errors.Add(($"head traces ({estimator})", Error(FisherTrace.Head(features, logits, estimator, labels),
                FisherTrace.Head(features.to(ScalarType.Float64), logits.to(ScalarType.Float64), estimator, labels))));
        return errors;
    }

    // ---- whole networks: a training step's gradients, the per-sample traces and their gradients ----

    private static List<(string Where, double Error)> NetworkErrors(string name, int draw)
    {
        var config = BackendNetwork.Get(name);
        return AtEachThreadCount(threads =>
        {
            using var network = config.Build();
            using var copy = config.Float64CopyOf(network);
            using var scope = NewDisposeScope();
            var inputs = config.Inputs(config.Batch, 2 + 10 * draw);
            var labels = (arange(config.Batch, dtype: ScalarType.Int64) + draw) % 3;
            var single = Compute(network, inputs);
            var reference = Compute(copy, inputs.to(ScalarType.Float64));
            return single.Select(s => ($"draw {draw}, {s.Name}, {threads} thread(s)", Error(s.Value, reference.Single(r => r.Name == s.Name).Value))).ToList();

            List<(string Name, Tensor Value)> Compute(ClassifierNetwork net, Tensor x)
            {
                net.train();
                var parameters = net.named_parameters().ToList();
                var tensors = parameters.Select(p => (Tensor)p.parameter).ToList();
                var logits = net.forward(x);
                var grads = autograd.grad([nn.functional.cross_entropy(logits, labels)], tensors);
                var result = new List<(string, Tensor)> { ("training logits", logits.detach()) };
                result.AddRange(parameters.Select((p, i) => ($"training gradient of {p.name}", grads[i])));
                // The traces (evaluation mode), and the paper's penalty: the full exact traces differentiated again.
                result.Add(("head traces (exact)", FisherTrace.Compute(net, x, TraceScope.Head, TraceEstimator.Exact)));
                result.Add(("full traces (empirical)", FisherTrace.Full(net, x, TraceEstimator.Empirical, labels, createGraph: false)));
                var traces = FisherTrace.Full(net, x, TraceEstimator.Exact, createGraph: true);
                var penalty = autograd.grad([traces.sum()], tensors, allow_unused: true);
                result.Add(("full traces (exact)", traces.detach()));
                result.AddRange(parameters.Select((p, i) => ($"gradient of the summed exact traces for {p.name}",
                    penalty[i] is { IsInvalid: false } g ? g : zeros_like(p.parameter))));
                return result;
            }
        });
    }

    // ---- helpers ----

    private static readonly ConcurrentDictionary<string, List<LayerCall>> Calls = new();

    private static List<LayerCall> RecordedCalls(string name) => Calls.GetOrAdd(name, _ =>
    {
        var config = BackendNetwork.Get(name);
        using var network = config.Build();
        return BackendNetwork.Record(network, config.Inputs(config.Batch, 1));
    });

    /// <summary>One call per distinct layer configuration and input shape.</summary>
    private static List<LayerCall> Distinct(IEnumerable<LayerCall> calls)
        => calls.GroupBy(c => Key(c)).Select(g => g.First()).ToList();

    private static string Key(LayerCall call) => call.Module switch
    {
        GuardedConv2d c => $"conv {c.in_channels} {c.out_channels} {string.Join('x', c.kernel_size)} {string.Join('x', c.stride)} {string.Join('x', c.padding!)} {c.bias is null}",
        StridedPointwiseConv2d p => $"pointwise {p.Weight.shape[1]} {p.Weight.shape[0]} {p.Stride}",
        _ => call.Module.GetType().Name,
    } + " [" + string.Join(',', call.InputShape) + "]";

    /// <summary>Runs <paramref name="check"/> at one thread and at the process's thread count (restored after).</summary>
    private static List<T> AtEachThreadCount<T>(Func<int, IEnumerable<T>> check)
    {
        int current = get_num_threads();
        var results = new List<T>();
        try
        {
            foreach (int threads in current == 1 ? new[] { 1 } : [1, current])
            {
                set_num_threads(threads);
                results.AddRange(check(threads));
            }
        }
        finally
        {
            set_num_threads(current);
        }
        return results;
    }

    private static double Error(Tensor actual, Tensor reference) => Float64ConvolutionCheck.Error(actual, reference);
}
