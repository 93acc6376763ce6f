using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Fisher;

/// <summary>The penalised step's fast paths against the obvious computation over the whole batch.</summary>
[Collection(TorchCollection.Name)]
public sealed class FlatnessPenaltyTests
{
    /// <summary>Every row constrained (the paper's setting) with some multipliers at 0: the step differentiates only the
    /// rows with a positive multiplier and takes the others' values from a values-only pass. Its traces and the penalty's
    /// gradient must equal those of one differentiable pass over the whole batch, <c>(1/B) sum_i lambda_i T_i</c>.</summary>
    [Theory]
    [InlineData("SmallCnn", TraceEstimator.Exact)]
    [InlineData("ResNet18", TraceEstimator.Exact)]
    [InlineData("SmallCnn", TraceEstimator.Empirical)]
    public void Split_step_equals_one_differentiable_pass_over_the_batch(string name, TraceEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var (network, inputs) = FisherTestNetworks.Create(name, classes: 3, batch: 6, seed: 11);
        using var _ = network;
        network.train();
        var labels = tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        var rows = arange(6, dtype: ScalarType.Int64);
        var constraint = new TraceConstraint(6, dualLearningRate: 1, maxDual: 10);
        constraint.SetBound(0);
        constraint.Update(tensor(new long[] { 1, 4, 5 }), tensor(new[] { 0.5, 2.0, 3.0 })); // multipliers 0, 0.5, 0, 0, 2, 3
        var settings = new TraceSettings(TraceScope.Full, estimator, TraceGradient.Full);
        var parameters = network.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();

        var step = FlatnessPenalty.Compute(network, inputs, labels, null, rows, constraint, settings, null, withPenalty: true);
        Assert.Equal(3, step.PenalisedRows);
        var fast = autograd.grad([step.Penalty!], parameters, retain_graph: false, allow_unused: true);

        var traces = FisherTrace.Full(network, inputs, estimator, labels, createGraph: true);
        var multipliers = constraint.Multipliers(rows, ScalarType.Float64, CPU);
        var reference = autograd.grad([(multipliers * traces).sum() / 6], parameters, allow_unused: true);

        // The test networks are float64; sums over subsets of the batch run in another order: relative 1e-9 leaves room for
        // cancellation across ~1e3 terms and is far below what a wrong row or a missed term gives (O(1) relative).
        var expected = traces.detach();
        Assert.True(step.Traces.allclose(expected, rtol: 1e-9, atol: 1e-12 * expected.abs().max().item<double>()),
            $"traces {string.Join(", ", step.Traces.data<double>().ToArray())} vs {string.Join(", ", expected.data<double>().ToArray())}");
        Assert.True(step.Constrained.all().item<bool>());
        for (int i = 0; i < parameters.Count; i++)
        {
            if (reference[i] is null || reference[i].IsInvalid) continue;
            double scale = Math.Max(reference[i].abs().max().item<double>(), 1e-12);
            double error = (fast[i] - reference[i]).abs().max().item<double>();
            Assert.True(error <= 1e-9 * scale, $"parameter {i}: max error {error} of gradient scale {scale}");
        }
    }
}
