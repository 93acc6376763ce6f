using MLNet.FlatDebias.Trainers.Engine;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>How a fixed per-row weight enters the training of a second stage.</summary>
internal enum RowWeightUse
{
    /// <summary>Rows are drawn with probability proportional to their weight (with replacement, N draws an epoch).</summary>
    Sampling,

    /// <summary>Rows are shuffled as usual and each row's cross-entropy is multiplied by its weight.</summary>
    LossWeight,
}

/// <summary>
/// Cross-entropy with a fixed weight per training row, used by sampling (PGD, JTT's upsampling) or in the loss (JTT's
/// loss weighting): the second stage of the two-stage methods. The weights come from the first stage and are
/// recomputed from it on resume, so the objective keeps no state of its own.
/// </summary>
internal sealed class RowWeightedObjective(double[] rowWeights, RowWeightUse use) : TrainingObjective
{
    public override double[]? SamplingWeights(TensorDataset training) => use == RowWeightUse.Sampling ? rowWeights : null;

    public override StepResult Step(TrainingBatch batch)
    {
        var weights = batch.Weights;
        if (use == RowWeightUse.LossWeight)
        {
            var rows = batch.Rows.data<long>().ToArray();
            var rowWeight = tensor(rows.Select(r => (float)rowWeights[r]).ToArray(), device: batch.Labels.device);
            weights = weights is null ? rowWeight : weights * rowWeight;
        }
        var loss = CrossEntropy(batch.Network.forward(batch.Inputs), batch.Labels, weights);
        return new StepResult(loss, loss.item<float>(), null);
    }
}
