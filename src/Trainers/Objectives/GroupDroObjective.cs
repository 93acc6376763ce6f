using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Engine;
using static TorchSharp.torch;
using MLNet.FlatDebias.Metrics;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>
/// Group distributionally robust optimisation (Sagawa et al. 2020, algorithm 1): group weights <c>q</c> on the
/// simplex, updated by exponentiated gradient <c>q_g &lt;- q_g exp(eta (L_g + C / sqrt(n_g)))</c> for the groups
/// in the batch, then normalised; the step minimises <c>sum_g q_g L_g</c>.
/// </summary>
internal sealed class GroupDroObjective : TrainingObjective
{
    private readonly double stepSize;
    private readonly double adjustment;
    private readonly bool balancedSampling;
    private double[] weights = [];
    private double[] adjustments = [];
    private IReadOnlyList<string> names = [];

    public GroupDroObjective(double stepSize, double generalizationAdjustment, bool groupBalancedSampling)
    {
        this.stepSize = stepSize;
        adjustment = generalizationAdjustment;
        balancedSampling = groupBalancedSampling;
    }

    /// <summary>The current group weights, indexed like the training set's group names.</summary>
    public IReadOnlyList<double> GroupWeights => weights;

    public override void Initialize(ObjectiveContext context)
    {
        var training = context.Training;
        if (training.Groups is null || training.GroupNames is null)
            throw new InvalidOperationException("GroupDRO needs the training group column.");
        names = training.GroupNames;
        var counts = new int[names.Count];
        foreach (var g in training.Groups) counts[g]++;
        if (weights.Length != names.Count)
        {
            int present = counts.Count(c => c > 0);
            weights = counts.Select(c => c > 0 ? 1.0 / present : 0.0).ToArray();
        }
        adjustments = counts.Select(c => c > 0 ? adjustment / Math.Sqrt(c) : 0.0).ToArray();
    }

    public override double[]? SamplingWeights(TensorDataset training)
    {
        if (!balancedSampling) return null;
        var counts = new int[names.Count];
        foreach (var g in training.Groups!) counts[g]++;
        return training.Groups!.Select(g => 1.0 / counts[g]).ToArray();
    }

    public override StepResult Step(TrainingBatch batch)
    {
        var groups = batch.Groups ?? throw new InvalidOperationException("GroupDRO needs the group of every row.");
        var perSample = nn.functional.cross_entropy(batch.Network.forward(batch.Inputs), batch.Labels, reduction: nn.Reduction.None);
        var sampleWeights = batch.Weights ?? ones(perSample.shape[0], dtype: perSample.dtype, device: perSample.device);
        int groupCount = weights.Length;
        var oneHot = nn.functional.one_hot(groups, groupCount).to_type(perSample.dtype);       // [B, G]
        // 0L, not 0: a literal 0 would bind to sum(ScalarType) and sum as bytes.
        var groupWeightSums = (oneHot * sampleWeights.unsqueeze(1)).sum(0L);                   // [G]
        var groupLosses = (oneHot * (perSample * sampleWeights).unsqueeze(1)).sum(0L) / groupWeightSums.clamp_min(HeldScalars.Tiny);

        // Exponentiated-gradient step on the groups present in the batch (Sagawa et al.'s code updates all; an
        // absent group has loss 0 there, which leaves its weight unchanged before normalisation, as here).
        var present = groupWeightSums.gt(HeldScalars.Zero).cpu().data<bool>().ToArray();
        var losses = groupLosses.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
        for (int g = 0; g < groupCount; g++)
            if (present[g]) weights[g] *= Math.Exp(stepSize * (losses[g] + adjustments[g]));
        double total = weights.Sum();
        for (int g = 0; g < groupCount; g++) weights[g] /= total;

        var q = tensor(weights, dtype: perSample.dtype, device: perSample.device);
        var objective = (q * groupLosses).sum();
        var plain = (perSample * sampleWeights).sum() / sampleWeights.sum().clamp_min(HeldScalars.Tiny);
        return new StepResult(objective, plain.item<float>(), null);
    }

    public override EpochReport OnEpochEnd(int epoch, EpochReport report)
        => report with { GroupWeights = names.Select((n, g) => (n, g)).ToDictionary(x => x.n, x => weights[x.g]) };

    public override void Save(BinaryWriter writer)
    {
        writer.Write(weights.Length);
        foreach (var w in weights) writer.Write(w);
    }

    public override void Load(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        weights = new double[count];
        for (int i = 0; i < count; i++) weights[i] = reader.ReadDouble();
    }
}
