using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// One pass of a frozen model over every training row, giving one number per row: the per-row score that JTT (is the
/// row misclassified?), PGD (the norm of its last-layer gradient) and the FlatDebias reference traces take from a
/// biased model. The network runs in evaluation mode (batch norm with its running statistics, so a row's score does
/// not depend on the rest of its batch) and is put back in the mode it was in.
/// </summary>
internal static class FrozenModelRowScores
{
    /// <summary>Scores every row of <paramref name="training"/> in order.</summary>
    /// <param name="network">The frozen model.</param>
    /// <param name="training">The training set.</param>
    /// <param name="device">Where the network is.</param>
    /// <param name="batchSize">Rows per pass.</param>
    /// <param name="score">Scores a batch: (network, inputs [B, C, H, W], labels [B]) to a tensor [B]. It decides
    /// itself whether it needs a graph (a full-network trace does).</param>
    /// <returns>One score per training row.</returns>
    public static float[] Compute(ClassifierNetwork network, TensorDataset training, Device device, int batchSize,
        Func<ClassifierNetwork, Tensor, Tensor, Tensor> score)
    {
        var scores = new float[training.Count];
        bool wasTraining = network.training;
        network.eval();
        try
        {
            for (int start = 0; start < training.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(batchSize, training.Count - start);
                var rows = Enumerable.Range(start, count).Select(i => (long)i).ToArray();
                var values = score(network, training.FeatureBatch(rows, device), training.LabelBatch(rows, device));
                values.detach().to(ScalarType.Float32).cpu().data<float>().CopyTo(scores, start);
            }
        }
        finally
        {
            network.train(wasTraining);
        }
        return scores;
    }
}
