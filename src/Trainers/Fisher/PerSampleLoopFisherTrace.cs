using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// The obviously-right per-sample loop: one <c>autograd.grad(create_graph: true, retain_graph: true)</c> per
/// sample and label. The tests' oracle for the fast path, the benchmarks' baseline, and the fast path's
/// fallback for parameters of layers without a closed form.
/// </summary>
internal static class PerSampleLoopFisherTrace
{
    /// <summary><c>||grad_params O_i||^2</c> for every i, from per-sample objectives of an evaluation-mode batch.</summary>
    public static Tensor SquaredGradientNorms(Tensor perSampleObjectives, IList<Parameter> parameters, bool createGraph)
    {
        var inputs = parameters.Cast<Tensor>().ToList();
        var norms = new List<Tensor>();
        for (long i = 0; i < perSampleObjectives.shape[0]; i++)
        {
            var grads = autograd.grad([perSampleObjectives[i]], inputs, retain_graph: true, create_graph: createGraph, allow_unused: true);
            Tensor total = zeros([], dtype: perSampleObjectives.dtype, device: perSampleObjectives.device);
            foreach (var g in grads)
                if (g is not null && !g.IsInvalid) total = total.add(g.pow(HeldScalars.Two).sum(), HeldScalars.One);
            norms.Add(total);
        }
        return stack(norms);
    }

    /// <summary>
    /// The reference trace straight from the definition, one sample at a time, each in its own forward pass in
    /// evaluation mode: <see cref="TraceEstimator.Exact"/> sums <c>p_c ||grad log p_c||^2</c> over every class
    /// (no two-class shortcut); the others use the given label.
    /// </summary>
    public static Tensor Compute(ClassifierNetwork network, Tensor inputs, TraceEstimator estimator, Tensor? labels,
        Tensor? sampledLabels, bool createGraph = true)
    {
        bool training = network.training;
        network.eval();
        try
        {
            using var scope = NewDisposeScope();
            var parameters = network.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();
            var traces = new List<Tensor>();
            for (long i = 0; i < inputs.shape[0]; i++)
            {
                Tensor logits;
                using (ConvolutionBackendGuard.SecondOrder(createGraph)) logits = network.forward(inputs[TensorIndex.Slice(i, i + 1)]);
                var logp = nn.functional.log_softmax(logits, 1)[0];
                Tensor SquaredNorm(Tensor objective)
                {
                    var grads = autograd.grad([objective], parameters, retain_graph: true, create_graph: createGraph, allow_unused: true);
                    Tensor total = zeros([], dtype: logp.dtype, device: logp.device);
                    foreach (var g in grads)
                        if (g is not null && !g.IsInvalid) total = total.add(g.pow(HeldScalars.Two).sum(), HeldScalars.One);
                    return total;
                }
                switch (estimator)
                {
                    case TraceEstimator.Exact:
                        Tensor sum = zeros([], dtype: logp.dtype, device: logp.device);
                        for (long c = 0; c < logp.shape[0]; c++) sum = sum.add(logp[c].exp() * SquaredNorm(logp[c]), HeldScalars.One);
                        traces.Add(sum);
                        break;
                    case TraceEstimator.Empirical:
                        traces.Add(SquaredNorm(logp[labels![i].item<long>()]));
                        break;
                    case TraceEstimator.Sampled:
                        traces.Add(SquaredNorm(logp[sampledLabels![i].item<long>()]));
                        break;
                }
            }
            var result = stack(traces);
            if (!createGraph) result = result.detach();
            return result.MoveToOuterDisposeScope();
        }
        finally
        {
            network.train(training);
        }
    }
}
