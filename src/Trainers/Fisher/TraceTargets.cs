using MLNet.FlatDebias.Common;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Fisher;

/// <summary>
/// The label-side of a trace: a set of scalar objectives whose per-sample squared gradient norms, weighted
/// per sample, sum to the trace. <c>T_i = sum_k w_ki ||grad O_k,i||^2</c> where <c>O_k = sum_i O_k,i</c>.
/// </summary>
internal sealed class TraceTargets
{
    private TraceTargets(IReadOnlyList<(Tensor PerSample, Tensor? Weight)> passes, Tensor probabilityFactor)
    {
        Passes = passes;
        ProbabilityFactor = probabilityFactor;
    }

    /// <summary>Per pass: the per-sample objectives <c>[N]</c> and an optional per-sample weight <c>[N]</c>.</summary>
    public IReadOnlyList<(Tensor PerSample, Tensor? Weight)> Passes { get; }

    /// <summary><c>phi_i(p)</c>: the factor of the trace that depends on the output probabilities only
    /// (see <see cref="TraceGradient.ProbabilitiesOnly"/>).</summary>
    public Tensor ProbabilityFactor { get; }

    /// <summary>Builds the passes for an estimator from logits <c>[N, C]</c>.</summary>
    /// <param name="logits">Logits of the batch (in the graph).</param>
    /// <param name="estimator">The estimator.</param>
    /// <param name="labels">True labels <c>[N]</c> (int64), needed by <see cref="TraceEstimator.Empirical"/>.</param>
    /// <param name="sampledLabels">Drawn labels for <see cref="TraceEstimator.Sampled"/>; drawn from <paramref name="generator"/> when null.</param>
    /// <param name="generator">Generator for the draw (the global one when null).</param>
    public static TraceTargets Create(Tensor logits, TraceEstimator estimator, Tensor? labels, Tensor? sampledLabels = null, Generator? generator = null)
    {
        var logp = nn.functional.log_softmax(logits, 1);
        var p = logp.exp();
        long classes = logits.shape[1];
        switch (estimator)
        {
            case TraceEstimator.Empirical:
            case TraceEstimator.Sampled:
                var targets = estimator == TraceEstimator.Empirical
                    ? labels ?? throw new ArgumentNullException(nameof(labels), "The empirical Fisher trace needs the true labels.")
                    : sampledLabels ?? FisherTrace.SampleLabels(logits, generator);
                var picked = logp.gather(1, targets.unsqueeze(1)).squeeze(1);
                var error = nn.functional.one_hot(targets, classes).to(p.dtype) - p;
                return new TraceTargets([(picked, null)], error.pow(HeldScalars.Two).sum(1));
            case TraceEstimator.Exact when classes == 2:
                // Tr F_i = p0 p1 ||grad (z1 - z0)||^2: one gradient per sample.
                var difference = logits[TensorIndex.Colon, 1] - logits[TensorIndex.Colon, 0];
                var weight = p[TensorIndex.Colon, 0] * p[TensorIndex.Colon, 1];
                return new TraceTargets([(difference, weight)], OneMinus(p.pow(HeldScalars.Two).sum(1)));
            case TraceEstimator.Exact:
                var passes = new List<(Tensor, Tensor?)>();
                for (long c = 0; c < classes; c++)
                    passes.Add((logp[TensorIndex.Colon, c], p[TensorIndex.Colon, c]));
                return new TraceTargets(passes, OneMinus(p.pow(HeldScalars.Two).sum(1)));
            default:
                throw new ArgumentOutOfRangeException(nameof(estimator), estimator, "Unknown trace estimator.");
        }
    }

    /// <summary><c>1 - x</c> with held scalars (<see cref="HeldScalars"/>): the same value as <c>1 - x</c>, bit for bit.</summary>
    private static Tensor OneMinus(Tensor x) => x.neg().add(HeldScalars.One, HeldScalars.One);
}
