using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// Per-sample Fisher-information traces <c>Tr F_i = E_{y ~ p(.|x_i)} ||grad_theta log p(y|x_i)||^2</c>
/// (<c>METHOD.md</c> section 2). Researchers use them to find the samples a model has not learned; the
/// FlatDebias trainer bounds them. Every result is differentiable with respect to the parameters (unless
/// asked otherwise), so it can be penalised.
/// </summary>
/// <remarks>
/// <para><b>Batch norm.</b> <see cref="TraceScope.Full"/> traces are computed with the network in evaluation
/// mode (batch norm uses its running statistics), so every sample's trace depends on that sample alone, as
/// per-sample gradient libraries do; the network's training mode is restored afterwards. <see cref="Head"/>
/// takes the features and logits the caller computed, in whatever mode the caller chose.</para>
/// <para><b>Cost.</b> <see cref="TraceScope.Full"/> takes one forward pass and one backward pass to the layer
/// outputs per gradient needed (one for <see cref="TraceEstimator.Sampled"/> and
/// <see cref="TraceEstimator.Empirical"/>, one for <see cref="TraceEstimator.Exact"/> with two classes, C
/// otherwise), with per-layer norms computed from the recorded layer inputs (Linear, Conv2d in the cheaper of
/// the direct and the Gram form, the strided 1x1 convolution, batch-norm affine parameters). Parameters of any
/// other layer are handled by a per-sample loop, never dropped.</para>
/// </remarks>
public static class FisherTrace
{
    /// <summary>Head-only traces in closed form from penultimate features and logits.</summary>
    /// <param name="features">Penultimate activations <c>h</c>, <c>[N, F]</c>.</param>
    /// <param name="logits">Logits <c>z = W h + b</c>, <c>[N, C]</c>.</param>
    /// <param name="estimator">The label expectation: <see cref="TraceEstimator.Exact"/> gives
    /// <c>(1 - ||p||^2)(||h||^2 + 1)</c>, <see cref="TraceEstimator.Empirical"/> <c>||e_y - p||^2 (||h||^2 + 1)</c>,
    /// <see cref="TraceEstimator.Sampled"/> the same with a label drawn from <c>p</c>.</param>
    /// <param name="labels">True labels <c>[N]</c> (int64); required for <see cref="TraceEstimator.Empirical"/>.</param>
    /// <param name="gradient">Whether the gradient flows through the feature-norm factor (default
    /// <see cref="TraceGradient.Full"/>).</param>
    /// <param name="generator">Generator for <see cref="TraceEstimator.Sampled"/> (the global one when null).</param>
    /// <returns>Traces <c>[N]</c>.</returns>
    public static Tensor Head(Tensor features, Tensor logits, TraceEstimator estimator, Tensor? labels = null,
        TraceGradient gradient = TraceGradient.Full, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(logits);
        using var scope = NewDisposeScope();
        var targets = TraceTargets.Create(logits, estimator, labels, generator: generator);
        var featureFactor = features.pow(HeldScalars.Two).sum(1).add(HeldScalars.One, HeldScalars.One); // ||h||^2 + 1, scalars held (HeldScalars)
        if (gradient == TraceGradient.ProbabilitiesOnly) featureFactor = featureFactor.detach();
        return (targets.ProbabilityFactor * featureFactor).MoveToOuterDisposeScope();
    }

    /// <summary>Full-network traces by the fast per-layer path (no loop over samples).</summary>
    /// <param name="network">The network; put in evaluation mode for the computation and restored after.</param>
    /// <param name="inputs">A batch <c>[N, C, H, W]</c>.</param>
    /// <param name="estimator">The label expectation.</param>
    /// <param name="labels">True labels <c>[N]</c> (int64); required for <see cref="TraceEstimator.Empirical"/>.</param>
    /// <param name="gradient">Gradient path (default <see cref="TraceGradient.Full"/>).</param>
    /// <param name="createGraph">True (default) to keep the result differentiable; false for values only (cheaper).</param>
    /// <param name="generator">Generator for <see cref="TraceEstimator.Sampled"/> (the global one when null).</param>
    /// <returns>Traces <c>[N]</c>.</returns>
    /// <exception cref="InvalidOperationException">The network has a TorchSharp <c>Conv2d</c> and this CPU's convolution backend
    /// has known defects (see <see cref="TorchRuntime.ConvolutionGuard"/>); the library's networks never do.</exception>
    public static Tensor Full(ClassifierNetwork network, Tensor inputs, TraceEstimator estimator, Tensor? labels = null,
        TraceGradient gradient = TraceGradient.Full, bool createGraph = true, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(network);
        ConvolutionBackendGuard.Process.RequireGuarded(network, "FisherTrace.Full");
        return GhostNormFisherTrace.Compute(network, inputs, estimator, labels, gradient, createGraph, generator, sampledLabels: null);
    }

    /// <summary>Traces for a batch with the network run by this method (in evaluation mode for both scopes).</summary>
    /// <param name="network">The network.</param>
    /// <param name="inputs">A batch <c>[N, C, H, W]</c>.</param>
    /// <param name="scope">Head or full network.</param>
    /// <param name="estimator">The label expectation (default: <see cref="TraceEstimator.Exact"/>, the paper's).</param>
    /// <param name="labels">True labels <c>[N]</c>; required for <see cref="TraceEstimator.Empirical"/>.</param>
    /// <param name="createGraph">True to keep the result differentiable (default false: values for inspection).</param>
    /// <returns>Traces <c>[N]</c>.</returns>
    /// <exception cref="InvalidOperationException">The network has a TorchSharp <c>Conv2d</c> and this CPU's convolution backend
    /// has known defects (see <see cref="TorchRuntime.ConvolutionGuard"/>); the library's networks never do.</exception>
    public static Tensor Compute(ClassifierNetwork network, Tensor inputs, TraceScope scope,
        TraceEstimator estimator = TraceEstimator.Exact, Tensor? labels = null, bool createGraph = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        if (scope == TraceScope.Full) return Full(network, inputs, estimator, labels, createGraph: createGraph);
        ConvolutionBackendGuard.Process.RequireGuarded(network, "FisherTrace.Compute");
        bool training = network.training;
        network.eval();
        try
        {
            using var outer = NewDisposeScope();
            using var grad = createGraph ? null : no_grad();
            var features = network.Features(inputs);
            return Head(features, network.Head.call(features), estimator, labels).MoveToOuterDisposeScope();
        }
        finally
        {
            network.train(training);
        }
    }

    /// <summary>Draws one label per row from <c>softmax(logits)</c>; no gradient flows through the draw.</summary>
    /// <param name="logits">Logits <c>[N, C]</c>.</param>
    /// <param name="generator">Generator (the global one when null).</param>
    /// <returns>Labels <c>[N]</c>, int64.</returns>
    public static Tensor SampleLabels(Tensor logits, Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        var probabilities = nn.functional.softmax(logits.detach(), 1);
        return probabilities.multinomial(1, generator: generator).squeeze(1).MoveToOuterDisposeScope();
    }
}
