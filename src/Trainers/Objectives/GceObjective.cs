using MLNet.FlatDebias.Trainers.Losses;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>
/// The generalized cross-entropy <c>(1 - p_y^q) / q</c> (<see cref="GeneralizedCrossEntropy"/>): a biased model's loss
/// (PGD's first stage, LfF's biased model). Its gradient is <c>p_y^q</c> times cross-entropy's, so rows the model fits
/// confidently dominate and the easy (spurious) rule is learnt first. The reported loss is still the cross-entropy, as
/// every trainer reports it.
/// </summary>
internal sealed class GceObjective(double q) : TrainingObjective
{
    public override StepResult Step(TrainingBatch batch)
    {
        var logits = batch.Network.forward(batch.Inputs);
        var gce = GeneralizedCrossEntropy.Mean(logits, batch.Labels, q, batch.Weights);
        using var crossEntropy = CrossEntropy(logits.detach(), batch.Labels, batch.Weights);
        return new StepResult(gce, crossEntropy.item<float>(), null);
    }
}
