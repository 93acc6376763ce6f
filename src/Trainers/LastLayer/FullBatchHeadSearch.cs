using MLNet.FlatDebias.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>What a full-batch last-layer method minimises: the loss of every candidate head at once, and what it updates
/// after each step (a dual variable). One small class per method (<see cref="AfrObjective"/>,
/// <see cref="FlatDebiasLastLayerObjective"/>).</summary>
internal interface IHeadObjective
{
    /// <summary>The candidates' losses summed (each candidate's parameters get only its own loss's gradient).</summary>
    /// <param name="logits">Training logits <c>[G, N, K]</c>.</param>
    /// <param name="weights">Heads' weights <c>[G, K, D]</c>.</param>
    /// <param name="biases">Heads' biases <c>[G, K]</c>.</param>
    Tensor Loss(Tensor logits, Tensor weights, Tensor biases);

    /// <summary>Whether <see cref="AfterStep"/> does anything (the new logits are computed only then).</summary>
    bool UpdatesAfterStep { get; }

    /// <summary>Called after each step with the new training logits (no gradient).</summary>
    void AfterStep(Tensor logits);
}

/// <summary>
/// Trains G candidate linear heads at once by full-batch gradient descent from a fitted model's head, and keeps, for each
/// candidate, the epoch with the best validation score; the candidates are the points of a method's grid (AFR's
/// <c>(gamma, lambda)</c>, FlatDebias's bounds and dual steps). Each step is AFR's released code's: plain SGD (no momentum,
/// no weight decay, constant learning rate), the gradient of each candidate clipped to a norm (PyTorch's
/// <c>clip_grad_norm_</c>: scaled by <c>max / (norm + 1e-6)</c> when larger). Candidates never interact: training them
/// together gives each the result it gets alone (tested), in one matrix product per step instead of G.
/// </summary>
internal sealed class FullBatchHeadSearch
{
    /// <summary>One candidate's outcome.</summary>
    /// <param name="BestEpoch">The epoch (1 = after the first step) with the best validation score; the earliest of equals.</param>
    /// <param name="BestScore">Its validation score.</param>
    public sealed record CandidateResult(int BestEpoch, double BestScore);

    /// <summary>The search's outcome: every candidate's best epoch and score, and the chosen candidate's head.</summary>
    /// <param name="Candidates">Per candidate, in grid order.</param>
    /// <param name="Chosen">The candidate with the best score (the first of equals).</param>
    /// <param name="Weights">The chosen head's weights <c>[K * D]</c>, row-major.</param>
    /// <param name="Biases">The chosen head's biases <c>[K]</c>.</param>
    public sealed record Outcome(IReadOnlyList<CandidateResult> Candidates, int Chosen, float[] Weights, float[] Biases);

    /// <summary>Runs the search.</summary>
    /// <param name="features">Training features <c>[N, D]</c> (float32, CPU).</param>
    /// <param name="initialWeights">The fitted head's weights <c>[K, D]</c>.</param>
    /// <param name="initialBiases">The fitted head's biases <c>[K]</c>.</param>
    /// <param name="candidates">G, the number of candidate heads.</param>
    /// <param name="objective">The method's objective.</param>
    /// <param name="validation">Scores heads on the validation rows (higher is better).</param>
    /// <param name="epochs">Full-batch steps.</param>
    /// <param name="learningRate">SGD step.</param>
    /// <param name="maxGradientNorm">Clip norm per candidate; <c>double.PositiveInfinity</c> for none.</param>
    /// <param name="selectEpoch">True: each candidate's best validation epoch; false: its last epoch (scored all the same).</param>
    public static Outcome Run(Tensor features, Tensor initialWeights, Tensor initialBiases, int candidates, IHeadObjective objective,
        HeadValidation validation, int epochs, double learningRate, double maxGradientNorm, bool selectEpoch)
    {
        using var scope = NewDisposeScope();
        long k = initialWeights.shape[0], d = initialWeights.shape[1];
        var w = initialWeights.to(ScalarType.Float32).unsqueeze(0).expand(candidates, k, d).clone().requires_grad_(true);
        var b = initialBiases.to(ScalarType.Float32).unsqueeze(0).expand(candidates, k).clone().requires_grad_(true);
        var bestW = w.detach().clone();
        var bestB = b.detach().clone();
        var best = Enumerable.Repeat(double.NegativeInfinity, candidates).ToArray();
        var bestEpoch = new int[candidates];
        using var lr = learningRate.ToScalar(); // held for the whole search (HeldScalars)
        using Scalar maxNorm = maxGradientNorm.ToScalar(), normFloor = 1e-6.ToScalar();
        for (int epoch = 1; epoch <= epochs; epoch++)
        {
            using (var step = NewDisposeScope())
            {
                var logits = Logits(features, w, b);
                var loss = objective.Loss(logits, w, b);
                var (gw, gb) = Gradients(loss, w, b);
                using (no_grad())
                {
                    if (!double.IsPositiveInfinity(maxGradientNorm))
                    {
                        var norm = gw.pow(HeldScalars.Two).sum([1, 2]).add(gb.pow(HeldScalars.Two).sum(1), HeldScalars.One).sqrt(); // [G]
                        var coefficient = (maxNorm / norm.add(normFloor, HeldScalars.One)).clamp_max(HeldScalars.One);
                        gw = gw * coefficient.view(-1, 1, 1);
                        gb = gb * coefficient.view(-1, 1);
                    }
                    w.sub_(gw * lr);
                    b.sub_(gb * lr);
                    if (objective.UpdatesAfterStep) objective.AfterStep(Logits(features, w, b));
                }
            }
            if (!selectEpoch && epoch < epochs) continue;
            using (var score = NewDisposeScope())
            using (no_grad())
            {
                var scores = validation.Score(w, b);
                var improved = new bool[candidates];
                for (int g = 0; g < candidates; g++)
                {
                    if (scores[g] > best[g] || !selectEpoch)
                    {
                        best[g] = scores[g];
                        bestEpoch[g] = epoch;
                        improved[g] = true;
                    }
                }
                var mask = tensor(improved);
                bestW.copy_(where(mask.view(-1, 1, 1), w.detach(), bestW));
                bestB.copy_(where(mask.view(-1, 1), b.detach(), bestB));
            }
        }
        int chosen = 0;
        for (int g = 1; g < candidates; g++)
            if (best[g] > best[chosen]) chosen = g;
        var weights = bestW[chosen].contiguous().data<float>().ToArray();
        var biases = bestB[chosen].contiguous().data<float>().ToArray();
        foreach (var value in weights.Concat(biases))
            if (!float.IsFinite(value))
                throw new InvalidOperationException($"The last-layer search diverged (a non-finite head weight): lower the learning rate ({learningRate}) or set a gradient clip.");
        return new Outcome(best.Select((s, g) => new CandidateResult(bestEpoch[g], s)).ToArray(), chosen, weights, biases);
    }

    /// <summary>The candidates' logits <c>[G, N, K]</c> of <paramref name="features"/> <c>[N, D]</c>: one matrix product.</summary>
    public static Tensor Logits(Tensor features, Tensor weights, Tensor biases)
    {
        long g = weights.shape[0], k = weights.shape[1], d = weights.shape[2];
        var flat = features.matmul(weights.reshape(g * k, d).t()); // [N, G*K]
        return flat.view(features.shape[0], g, k).permute(1, 0, 2).add(biases.unsqueeze(1), HeldScalars.One);
    }

    private static (Tensor Weights, Tensor Biases) Gradients(Tensor loss, Tensor w, Tensor b)
    {
        var grads = TorchSharp.torch.autograd.grad([loss], [w, b]);
        return (grads[0], grads[1]);
    }
}

/// <summary>Scores candidate heads on validation rows: worst-group accuracy with groups, worst-class accuracy without (the
/// classes are then the groups); groups with no rows take no part.</summary>
internal sealed class HeadValidation : IDisposable
{
    private readonly Tensor _features;
    private readonly Tensor _labels;
    private readonly Tensor _membership; // [Nv, groups with rows], one-hot
    private readonly Tensor _counts;

    /// <summary>Scores on <paramref name="rows"/>: by its groups when it has them, else by its classes.</summary>
    public HeadValidation(FrozenModelRows rows)
    {
        ByGroups = rows.Groups is not null;
        var index = rows.Groups ?? rows.Labels;
        var present = index.Distinct().Order().ToArray();
        var column = present.Select((g, i) => (g, i)).ToDictionary(p => p.g, p => p.i);
        var membership = new float[rows.Count * present.Length];
        for (int i = 0; i < rows.Count; i++) membership[i * present.Length + column[index[i]]] = 1;
        _features = rows.FeatureTensor();
        _labels = tensor(rows.Labels.Select(l => (long)l).ToArray());
        _membership = tensor(membership, [rows.Count, present.Length]);
        _counts = _membership.sum([0]); // a dimension array: a literal 0 would convert to a ScalarType and sum everything
        Units = present.Length;
    }

    /// <summary>True when the score is the worst-group accuracy; false: the worst-class accuracy.</summary>
    public bool ByGroups { get; }

    /// <summary>Groups (or classes) scored.</summary>
    public int Units { get; }

    /// <summary>Each candidate's worst-group (or worst-class) accuracy.</summary>
    public double[] Score(Tensor weights, Tensor biases)
    {
        using var scope = NewDisposeScope();
        var predicted = FullBatchHeadSearch.Logits(_features, weights.detach(), biases.detach()).argmax(2); // [G, Nv]
        var correct = predicted.eq(_labels.unsqueeze(0)).to(ScalarType.Float32);
        var accuracy = correct.matmul(_membership) / _counts; // [G, units]
        return accuracy.min(1).values.to(ScalarType.Float64).data<double>().ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _features.Dispose();
        _labels.Dispose();
        _membership.Dispose();
        _counts.Dispose();
    }
}
