using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// The fast full-network trace: one forward pass with the layers' inputs and outputs recorded, one
/// <c>autograd.grad</c> to the recorded outputs per objective (samples are independent in evaluation mode,
/// so the gradient of the batch sum gives every sample's output gradient at once), and per-layer closed-form
/// norms. Parameters of layers without a closed form go to <see cref="PerSampleLoopFisherTrace"/>.
/// </summary>
internal static class GhostNormFisherTrace
{
    public static Tensor Compute(ClassifierNetwork network, Tensor inputs, TraceEstimator estimator, Tensor? labels,
        TraceGradient gradient, bool createGraph, Generator? generator, Tensor? sampledLabels)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(inputs);
        bool training = network.training;
        network.eval();
        try
        {
            using var scope = NewDisposeScope();
            using var recorder = new LayerRecorder(network);
            bool graph = createGraph && gradient == TraceGradient.Full;
            Tensor logits;
            using (ConvolutionBackendGuard.SecondOrder(graph)) logits = network.forward(inputs);
            var targets = TraceTargets.Create(logits, estimator, labels, sampledLabels, generator);

            var handled = recorder.SingleUseCaptures.Where(c => CanHandle(c.Module)).ToList();
            var covered = new HashSet<Parameter>(handled.SelectMany(c => LayerRecorder.TrainableParameters(c.Module)), ReferenceEqualityComparer.Instance);
            var uncovered = network.parameters().Where(p => p.requires_grad && !covered.Contains(p)).ToList();
            var outputs = handled.Select(c => c.Output).ToList();

            Tensor trace = zeros(inputs.shape[0], dtype: logits.dtype, device: logits.device);
            foreach (var (perSample, weight) in targets.Passes)
            {
                var norms = zeros_like(trace);
                if (outputs.Count > 0)
                {
                    var grads = autograd.grad([perSample.sum()], outputs, retain_graph: true, create_graph: graph, allow_unused: true);
                    for (int k = 0; k < handled.Count; k++)
                    {
                        if (grads[k] is null || grads[k].IsInvalid) continue;
                        norms = norms.add(LayerGradientNorms.ForLayer(handled[k].Module, handled[k].Input, grads[k])
                                         ?? throw new InvalidOperationException($"No closed form for {handled[k].Module.GetType().Name}."), HeldScalars.One);
                    }
                }
                if (uncovered.Count > 0)
                    norms = norms.add(PerSampleLoopFisherTrace.SquaredGradientNorms(perSample, uncovered, graph), HeldScalars.One);
                trace = trace.add(weight is null ? norms : weight * norms, HeldScalars.One); // alpha held (HeldScalars)
            }

            if (gradient == TraceGradient.ProbabilitiesOnly)
                trace = HoldGainConstant(trace, targets.ProbabilityFactor);
            if (!createGraph) trace = trace.detach();
            return trace.MoveToOuterDisposeScope();
        }
        finally
        {
            network.train(training);
        }
    }

    /// <summary><c>phi * (T / phi)</c> with the ratio held constant: the value of <c>T</c>, the gradient of <c>phi</c>.</summary>
    internal static Tensor HoldGainConstant(Tensor trace, Tensor probabilityFactor)
    {
        var phi = probabilityFactor.detach();
        var gain = where(phi.gt(HeldScalars.Tiny), trace.detach() / phi.clamp_min(HeldScalars.Tiny), zeros_like(phi));
        return probabilityFactor * gain;
    }

    private static bool CanHandle(TorchSharp.torch.nn.Module module)
        => module is not BatchNorm bn || (!bn.training && bn.track_running_stats && bn.running_mean is not null && bn.running_var is not null);
}
