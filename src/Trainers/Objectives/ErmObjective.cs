using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>Empirical risk minimisation: the mean (weighted) cross-entropy, nothing else.</summary>
internal sealed class ErmObjective : TrainingObjective
{
    public override StepResult Step(TrainingBatch batch)
    {
        var loss = CrossEntropy(batch.Network.forward(batch.Inputs), batch.Labels, batch.Weights);
        return new StepResult(loss, loss.item<float>(), null);
    }
}
