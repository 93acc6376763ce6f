using MLNet.FlatDebias.Common;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>AFR's objective for every grid point at once: <c>sum_i w_gi CE(W_g h_i + b_g, y_i) + lambda_g (||W_g - W0||^2 +
/// ||b_g - b0||^2)</c>, the weights fixed from the fitted model (<see cref="AfrWeights"/>), the pull towards the fitted head
/// without the factor 1/2 (as the released code writes it).</summary>
internal sealed class AfrObjective : IHeadObjective, IDisposable
{
    private readonly Tensor _rowWeights;   // [G, N]
    private readonly Tensor _pulls;        // [G]
    private readonly Tensor _labels;       // [N]
    private readonly Tensor _w0;           // [K, D]
    private readonly Tensor _b0;           // [K]

    /// <param name="rowWeights">Per candidate, the row weights <c>[G][N]</c>.</param>
    /// <param name="pulls">Per candidate, lambda.</param>
    /// <param name="labels">The rows' classes.</param>
    /// <param name="w0">The fitted head's weights <c>[K, D]</c>.</param>
    /// <param name="b0">The fitted head's biases <c>[K]</c>.</param>
    public AfrObjective(IReadOnlyList<double[]> rowWeights, IReadOnlyList<double> pulls, IReadOnlyList<int> labels, Tensor w0, Tensor b0)
    {
        int n = labels.Count;
        var flat = new float[rowWeights.Count * n];
        for (int g = 0; g < rowWeights.Count; g++)
            for (int i = 0; i < n; i++) flat[g * n + i] = (float)rowWeights[g][i];
        _rowWeights = tensor(flat, [rowWeights.Count, n]);
        _pulls = tensor(pulls.Select(p => (float)p).ToArray());
        _labels = tensor(labels.Select(l => (long)l).ToArray());
        _w0 = w0.detach().clone();
        _b0 = b0.detach().clone();
    }

    /// <inheritdoc/>
    public Tensor Loss(Tensor logits, Tensor weights, Tensor biases)
    {
        var crossEntropy = RowCrossEntropy(logits, _labels); // [G, N]
        var data = (crossEntropy * _rowWeights).sum(1);
        var pull = (weights - _w0).pow(HeldScalars.Two).sum([1, 2]).add((biases - _b0).pow(HeldScalars.Two).sum(1), HeldScalars.One);
        return data.add(_pulls * pull, HeldScalars.One).sum(); // alphas held (HeldScalars)
    }

    /// <inheritdoc/>
    public bool UpdatesAfterStep => false;

    /// <inheritdoc/>
    public void AfterStep(Tensor logits)
    {
    }

    /// <summary>Each candidate's cross-entropy of each row, <c>[G, N]</c>.</summary>
    public static Tensor RowCrossEntropy(Tensor logits, Tensor labels)
    {
        var logProbabilities = logits.log_softmax(2);
        var index = labels.view(1, -1, 1).expand(logits.shape[0], -1, 1);
        return -logProbabilities.gather(2, index).squeeze(2);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _rowWeights.Dispose();
        _pulls.Dispose();
        _labels.Dispose();
        _w0.Dispose();
        _b0.Dispose();
    }
}
