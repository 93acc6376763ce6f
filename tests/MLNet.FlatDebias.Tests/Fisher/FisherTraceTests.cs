using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Fisher;

[Collection(TorchCollection.Name)]
public sealed class FisherTraceTests
{
    public static TheoryData<string, TraceEstimator, int> Cases()
    {
        var data = new TheoryData<string, TraceEstimator, int>();
        foreach (var net in FisherTestNetworks.Names)
            foreach (var estimator in Enum.GetValues<TraceEstimator>())
                foreach (var classes in new[] { 2, 3 })
                    data.Add(net, estimator, classes);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Fast_full_trace_equals_the_per_sample_loop(string networkName, TraceEstimator estimator, int classes)
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create(networkName, classes, batch: 5, seed: 21);
        using var _ = net;
        var labels = randint(0, classes, [5], dtype: ScalarType.Int64);
        var sampled = estimator == TraceEstimator.Sampled ? SampledLabels(net, x, seed: 5) : null;

        var fast = GhostNormFisherTrace.Compute(net, x, estimator, labels, TraceGradient.Full, createGraph: false, generator: null, sampledLabels: sampled);
        var reference = PerSampleLoopFisherTrace.Compute(net, x, estimator, labels, sampled, createGraph: false);

        Assert.True(net.training, "the network's training mode must be restored");
        Assert.True((reference > 0).all().item<bool>(), "traces should be positive");
        TensorAssert.RelativeClose(reference, fast, 1e-4, $"{networkName} {estimator} C={classes}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gradient_of_weighted_traces_equals_the_per_sample_loop(string networkName, TraceEstimator estimator, int classes)
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create(networkName, classes, batch: 4, seed: 22);
        using var _ = net;
        var labels = randint(0, classes, [4], dtype: ScalarType.Int64);
        var lambdas = rand(4, dtype: ScalarType.Float64) * 2;
        var sampled = estimator == TraceEstimator.Sampled ? SampledLabels(net, x, seed: 6) : null;
        var parameters = net.parameters().ToList();

        var fast = (lambdas * GhostNormFisherTrace.Compute(net, x, estimator, labels, TraceGradient.Full, true, null, sampled)).sum();
        var fastGrads = autograd.grad([fast], parameters.Cast<Tensor>().ToList(), allow_unused: true);
        var reference = (lambdas * PerSampleLoopFisherTrace.Compute(net, x, estimator, labels, sampled)).sum();
        var referenceGrads = autograd.grad([reference], parameters.Cast<Tensor>().ToList(), allow_unused: true);

        var names = net.named_parameters().Select(p => p.name).ToList();
        for (int k = 0; k < parameters.Count; k++)
            TensorAssert.Close(referenceGrads[k], fastGrads[k], 1e-4, $"{networkName} {estimator} gradient of {names[k]}");
    }

    [Theory]
    [InlineData(TraceEstimator.Exact)]
    [InlineData(TraceEstimator.Empirical)]
    public void Head_closed_form_equals_full_trace_when_only_the_head_is_trainable(TraceEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create("SmallCnn", 3, batch: 6, seed: 23);
        using var _ = net;
        foreach (var (name, p) in net.named_parameters())
            if (!name.StartsWith("fc.", StringComparison.Ordinal)) p.requires_grad_(false);
        var labels = randint(0, 3, [6], dtype: ScalarType.Int64);

        var full = FisherTrace.Full(net, x, estimator, labels, createGraph: false);
        var head = FisherTrace.Compute(net, x, TraceScope.Head, estimator, labels);
        TensorAssert.RelativeClose(full, head, 1e-6, "head vs full");
    }

    [Theory]
    [InlineData(TraceEstimator.Exact, 2)]
    [InlineData(TraceEstimator.Exact, 4)]
    [InlineData(TraceEstimator.Empirical, 3)]
    public void Head_closed_form_is_the_whole_trace_of_a_linear_classifier(TraceEstimator estimator, int classes)
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create("Linear", classes, batch: 7, seed: 29);
        using var _ = net;
        Assert.All(net.parameters(), p => Assert.True(p.requires_grad)); // nothing frozen: the head is every parameter
        var labels = randint(0, classes, [7], dtype: ScalarType.Int64);

        var full = FisherTrace.Compute(net, x, TraceScope.Full, estimator, labels);
        var head = FisherTrace.Compute(net, x, TraceScope.Head, estimator, labels);
        var loop = PerSampleLoopFisherTrace.Compute(net, x, estimator, labels, null, createGraph: false);
        // Float64, the same quantity by closed form, per-layer norms and a per-sample autograd loop: they agree to about
        // 1e-15; a dropped bias term (the +1 in ||x||^2 + 1) or a wrong probability factor moves a trace by 1e-2 or more.
        TensorAssert.RelativeClose(loop, full, 1e-10, "full vs per-sample loop");
        TensorAssert.RelativeClose(full, head, 1e-10, "head vs full");
    }

    [Fact]
    public void Two_class_closed_form_equals_the_expectation_over_both_labels()
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create("Mlp", 2, batch: 6, seed: 24);
        using var _ = net;
        var closedForm = FisherTrace.Full(net, x, TraceEstimator.Exact, createGraph: false);
        var zeros = torch.zeros(6, dtype: ScalarType.Int64);
        var ones = torch.ones(6, dtype: ScalarType.Int64);
        var empirical0 = FisherTrace.Full(net, x, TraceEstimator.Empirical, zeros, createGraph: false);
        var empirical1 = FisherTrace.Full(net, x, TraceEstimator.Empirical, ones, createGraph: false);
        net.eval();
        var p = nn.functional.softmax(net.forward(x), 1).detach();
        net.train();
        var expectation = p[TensorIndex.Colon, 0] * empirical0 + p[TensorIndex.Colon, 1] * empirical1;
        TensorAssert.RelativeClose(expectation, closedForm, 1e-8, "p0 p1 ||grad(z1 - z0)||^2 vs sum_c p_c ||grad log p_c||^2");
    }

    [Fact]
    public void Sampled_trace_averaged_over_many_draws_approaches_the_exact_trace()
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create("Mlp", 4, batch: 1, seed: 25);
        using var _ = net;
        double exact = FisherTrace.Full(net, x, TraceEstimator.Exact, createGraph: false).ToDoubleValue();
        var generator = new Generator(123);
        const int Draws = 3000;
        var repeated = x.expand(Draws, -1, -1, -1).contiguous();
        var samples = FisherTrace.Full(net, repeated, TraceEstimator.Sampled, createGraph: false, generator: generator);
        double mean = samples.mean().ToDoubleValue();
        double standardError = samples.std().ToDoubleValue() / Math.Sqrt(Draws);
        double tolerance = 4 * standardError;
        Assert.True(tolerance < 0.05 * exact, $"the test is too loose to catch a wrong formula: tolerance {tolerance:G4} vs exact {exact:G4}");
        Assert.True(Math.Abs(mean - exact) <= tolerance, $"sampled mean {mean:G6} vs exact {exact:G6} (tolerance {tolerance:G3})");
        // Not a constant: the draws differ, so the estimator really samples.
        Assert.True(samples.std().ToDoubleValue() > 0);
    }

    [Fact]
    public void Penalty_gradient_matches_finite_differences()
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create("Mlp", 3, batch: 3, seed: 26);
        using var _ = net;
        var labels = tensor(new long[] { 0, 2, 1 });
        var lambdas = tensor(new[] { 0.5, 1.5, 0.0 }, dtype: ScalarType.Float64);
        double Penalty() => (lambdas * FisherTrace.Full(net, x, TraceEstimator.Empirical, labels, createGraph: false)).sum().ToDoubleValue();

        var penalty = (lambdas * FisherTrace.Full(net, x, TraceEstimator.Empirical, labels)).sum();
        var parameters = net.parameters().ToList();
        var grads = autograd.grad([penalty], parameters.Cast<Tensor>().ToList());
        var check = new Random(3);
        const double Step = 1e-6;
        for (int k = 0; k < parameters.Count; k++)
        {
            var flat = parameters[k].detach().view(-1);
            var gradient = grads[k].reshape(-1);
            for (int trial = 0; trial < 3; trial++)
            {
                long index = check.NextInt64(flat.shape[0]);
                double original = flat[index].ToDoubleValue();
                using (no_grad()) flat[index] = original + Step;
                double plus = Penalty();
                using (no_grad()) flat[index] = original - Step;
                double minus = Penalty();
                using (no_grad()) flat[index] = original;
                double numeric = (plus - minus) / (2 * Step);
                double analytic = gradient[index].ToDoubleValue();
                Assert.True(Math.Abs(numeric - analytic) <= 1e-5 * Math.Max(1, Math.Abs(numeric)),
                    $"parameter {k}[{index}]: finite difference {numeric:G8}, autograd {analytic:G8}");
            }
        }
    }

    [Theory]
    [InlineData(TraceEstimator.Exact)]
    [InlineData(TraceEstimator.Empirical)]
    public void Layers_without_closed_form_or_used_twice_go_to_the_loop_and_are_not_dropped(TraceEstimator estimator)
    {
        using var scope = NewDisposeScope();
        TorchRuntime.SetSeed(27);
        using var net = new OddLayersNetwork(3);
        net.to(ScalarType.Float64);
        var x = randn(4, 1, 2, 3, dtype: ScalarType.Float64);
        var labels = tensor(new long[] { 0, 1, 2, 1 });

        var fast = FisherTrace.Full(net, x, estimator, labels, createGraph: false);
        var reference = PerSampleLoopFisherTrace.Compute(net, x, estimator, labels, null, createGraph: false);
        TensorAssert.RelativeClose(reference, fast, 1e-8, "odd layers");

        // The odd layers contribute: freezing them changes the trace.
        foreach (var (name, p) in net.named_parameters())
            if (name.StartsWith("scale", StringComparison.Ordinal) || name.StartsWith("shared", StringComparison.Ordinal)) p.requires_grad_(false);
        var without = FisherTrace.Full(net, x, estimator, labels, createGraph: false);
        Assert.True(((fast - without) > 1e-6).all().item<bool>(), "the scale and shared layers should add to every trace");
    }

    [Theory]
    [InlineData(TraceScope.Head)]
    [InlineData(TraceScope.Full)]
    public void Probabilities_only_keeps_the_value_and_routes_the_gradient_through_p(TraceScope traceScope)
    {
        using var scope = NewDisposeScope();
        var (net, x) = FisherTestNetworks.Create("Mlp", 3, batch: 5, seed: 28);
        using var _ = net;
        var labels = randint(0, 3, [5], dtype: ScalarType.Int64);
        var parameters = net.parameters().Cast<Tensor>().ToList();
        net.eval();

        Tensor Trace(TraceGradient gradient)
        {
            if (traceScope == TraceScope.Full) return FisherTrace.Full(net, x, TraceEstimator.Empirical, labels, gradient);
            var h = net.Features(x);
            return FisherTrace.Head(h, net.Head.call(h), TraceEstimator.Empirical, labels, gradient);
        }

        var full = Trace(TraceGradient.Full);
        var probabilitiesOnly = Trace(TraceGradient.ProbabilitiesOnly);
        TensorAssert.RelativeClose(full, probabilitiesOnly, 1e-10, "value");

        // Expected gradient: phi(p) = ||e_y - p||^2 times the gain T / phi held constant.
        var p = nn.functional.softmax(net.forward(x), 1);
        var phi = (nn.functional.one_hot(labels, 3).to(ScalarType.Float64) - p).pow(2).sum(1);
        var expected = (phi * (full.detach() / phi.detach())).sum();
        var expectedGrads = autograd.grad([expected], parameters, allow_unused: true);
        var actualGrads = autograd.grad([probabilitiesOnly.sum()], parameters, allow_unused: true);
        for (int k = 0; k < parameters.Count; k++)
            TensorAssert.Close(expectedGrads[k], actualGrads[k], 1e-8, $"gradient {k}");
        var fullGrads = autograd.grad([full.sum()], parameters, allow_unused: true);
        Assert.Contains(Enumerable.Range(0, parameters.Count), k => (fullGrads[k] - actualGrads[k]).abs().max().ToDoubleValue() > 1e-6);
        net.train();
    }

    private static Tensor SampledLabels(ClassifierNetwork net, Tensor x, int seed)
    {
        net.eval();
        using var noGrad = no_grad();
        var labels = FisherTrace.SampleLabels(net.forward(x), new Generator((ulong)seed));
        net.train();
        return labels;
    }
}

[Collection(TorchCollection.Name)]
public sealed class LayerGradientNormsTests
{
    [Theory]
    [InlineData(2, 5, 7, 9)]
    [InlineData(3, 16, 4, 2)]
    public void Direct_and_gram_forms_of_the_convolution_norm_agree_with_explicit_per_sample_gradients(int n, int outChannels, int patch, int positions)
    {
        using var scope = NewDisposeScope();
        TorchRuntime.SetSeed(29);
        var unfolded = randn(n, patch, positions, dtype: ScalarType.Float64);
        var g = randn(n, outChannels, positions, dtype: ScalarType.Float64);
        var explicitNorms = bmm(g, unfolded.transpose(1, 2)).pow(2).sum([1, 2]) + g.sum(2).pow(2).sum(1);
        var direct = LayerGradientNorms.Convolution(unfolded, g, true, true, gram: false);
        var gram = LayerGradientNorms.Convolution(unfolded, g, true, true, gram: true);
        TensorAssert.RelativeClose(explicitNorms, direct, 1e-10, "direct");
        TensorAssert.RelativeClose(explicitNorms, gram, 1e-10, "gram");
        Assert.Equal(positions * positions * (outChannels + patch) < outChannels * positions * patch,
            LayerGradientNorms.PreferGram(outChannels, patch, positions));
    }
}
