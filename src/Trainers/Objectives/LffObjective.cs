using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Losses;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Objectives;

/// <summary>
/// Learning from Failure (Nam et al. 2020), as their code (alinlab/LfF, <c>train.py</c>) does it: a biased model
/// <c>f_B</c>, built like the engine's network and owned here, and the debiased model <c>f_D</c> (the engine's network)
/// see the same batches. Each step updates every batch row's moving averages of both models' cross-entropies
/// (<c>e_i &lt;- alpha e_i + (1 - alpha) l_i</c>, the first visit taking <c>l_i</c>), divides them by their class's largest
/// average, and weighs <c>f_D</c>'s cross-entropy by the detached <c>W_i = L_B / (L_B + L_D + 1e-8)</c>. The returned
/// objective is <c>q GCE_q(f_B) + W CE(f_D)</c>, back-propagated once by the engine as in their code; the engine's
/// optimiser steps <c>f_D</c> and this objective's own optimiser (same kind and settings) steps <c>f_B</c> in
/// <see cref="AfterStep"/>. Group labels are never used.
/// </summary>
internal sealed class LffObjective : TrainingObjective, IDisposable
{
    /// <summary>Added to the weight's denominator, as in the reference code, so two zero losses give weight 0, not NaN.</summary>
    internal const double WeightEpsilon = 1e-8;

    private readonly double q;
    private readonly double alpha;
    private readonly NetworkTrainerOptions options;
    private ClassifierNetwork? biased;
    private OptimizerHelper? biasedOptimizer;
    private Device device = CPU;
    private long[] labels = [];
    private int[][] rowsByClass = [];
    private double[] averageBiased = [];
    private double[] averageDebiased = [];
    private bool[] visited = [];
    private double epochWeightSum;
    private long epochWeightCount;

    /// <param name="q">The GCE exponent of the biased model, in (0, 1].</param>
    /// <param name="emaAlpha">The moving average's decay, in [0, 1).</param>
    /// <param name="options">The trainer's options: the biased model's optimiser takes their kind and settings.</param>
    public LffObjective(double q, double emaAlpha, NetworkTrainerOptions options)
    {
        this.q = q;
        alpha = emaAlpha;
        this.options = options;
    }

    /// <summary>The biased model (after <see cref="Initialize"/>).</summary>
    public ClassifierNetwork BiasedNetwork => biased ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>The weights <c>W</c> of the last step's rows, in batch order.</summary>
    public IReadOnlyList<double> LastWeights { get; private set; } = [];

    public override void Initialize(ObjectiveContext context)
    {
        var training = context.Training;
        device = context.Device;
        labels = training.Labels;
        var byClass = Enumerable.Range(0, training.ClassCount).Select(_ => new List<int>()).ToArray();
        for (int i = 0; i < labels.Length; i++) byClass[labels[i]].Add(i);
        rowsByClass = byClass.Select(rows => rows.ToArray()).ToArray();
        if (biased is not null) return; // called again after a resume: the state was loaded into what the first call built
        var factory = context.NetworkFactory
            ?? throw new InvalidOperationException("LfF needs ObjectiveContext.NetworkFactory to build its biased model.");
        averageBiased = new double[training.Count];
        averageDebiased = new double[training.Count];
        visited = new bool[training.Count];
        biased = factory();
        biased.to(device);
        biased.train();
        biasedOptimizer = TrainingEngine.CreateOptimizer(biased.parameters(), options);
    }

    public override void OnEpochStart(int epoch)
    {
        epochWeightSum = 0;
        epochWeightCount = 0;
    }

    public override StepResult Step(TrainingBatch batch)
    {
        var model = BiasedNetwork;
        biasedOptimizer!.zero_grad();
        var biasedLogits = model.forward(batch.Inputs);
        var logits = batch.Network.forward(batch.Inputs);
        var perSample = nn.functional.cross_entropy(logits, batch.Labels, reduction: nn.Reduction.None);
        using (no_grad())
        {
            var biasedPerSample = nn.functional.cross_entropy(biasedLogits, batch.Labels, reduction: nn.Reduction.None);
            LastWeights = Weigh(batch.Rows.data<long>().ToArray(), ToDoubles(biasedPerSample), ToDoubles(perSample));
        }
        foreach (var w in LastWeights) epochWeightSum += w;
        epochWeightCount += LastWeights.Count;

        var weights = tensor(LastWeights.Select(w => (float)w).ToArray(), device: perSample.device);
        var sampleWeights = batch.Weights;
        Tensor debiasedLoss, plain;
        if (sampleWeights is null)
        {
            debiasedLoss = (perSample * weights).mean();
            plain = perSample.mean();
        }
        else
        {
            var total = sampleWeights.sum().clamp_min(HeldScalars.Tiny);
            debiasedLoss = (perSample * weights * sampleWeights).sum() / total;
            plain = (perSample * sampleWeights).sum() / total;
        }
        // q * GCE: its gradient q p_y^q (p - e_y) is the reference code's (cross-entropy times the detached q p_y^q).
        using Scalar qScalar = q.ToScalar(); // held across the calls, not implicit (HeldScalars)
        var biasedLoss = GeneralizedCrossEntropy.Mean(biasedLogits, batch.Labels, q, sampleWeights).mul(qScalar);
        return new StepResult(biasedLoss.add(debiasedLoss, HeldScalars.One), plain.item<float>(), null);
    }

    /// <summary>Steps the biased model on the gradient the engine's backward left in it.</summary>
    public override void AfterStep(TrainingBatch batch, StepResult result) => biasedOptimizer!.step();

    public override EpochReport OnEpochEnd(int epoch, EpochReport report)
        => report with { MeanDual = epochWeightCount > 0 ? epochWeightSum / epochWeightCount : null };

    /// <summary>Every row's weight from the final moving averages (0 for a row never visited).</summary>
    public override RowDiagnostics? Diagnostics()
    {
        if (biased is null) return null;
        var all = Enumerable.Range(0, labels.Length).Select(i => (long)i).ToArray();
        var weights = WeightsOf(all, ClassMaxima(averageBiased, null), ClassMaxima(averageDebiased, null));
        return new RowDiagnostics(weights.Select(w => (float)w).ToArray(), Enumerable.Repeat(float.NaN, all.Length).ToArray(), null, []);
    }

    public override void Save(BinaryWriter writer)
    {
        writer.Write(averageBiased.Length);
        for (int i = 0; i < averageBiased.Length; i++)
        {
            writer.Write(averageBiased[i]);
            writer.Write(averageDebiased[i]);
            writer.Write(visited[i]);
        }
        BiasedNetwork.save(writer);
        biasedOptimizer!.save_state_dict(writer);
    }

    public override void Load(BinaryReader reader)
    {
        var model = BiasedNetwork;
        int count = reader.ReadInt32();
        if (count != averageBiased.Length)
            throw new InvalidDataException($"The checkpoint's LfF loss averages cover {count} rows; the training set has {averageBiased.Length}.");
        for (int i = 0; i < count; i++)
        {
            averageBiased[i] = reader.ReadDouble();
            averageDebiased[i] = reader.ReadDouble();
            visited[i] = reader.ReadBoolean();
        }
        model.load(reader);
        model.to(device);
        biasedOptimizer!.load_state_dict(reader);
        TrainingEngine.ApplyCurrentHyperparameters(biasedOptimizer, options);
    }

    public void Dispose()
    {
        biasedOptimizer?.Dispose();
        biased?.Dispose();
        biasedOptimizer = null;
        biased = null;
    }

    /// <summary>Updates the rows' moving averages with the step's losses and returns their weights.</summary>
    private double[] Weigh(long[] rows, double[] biasedLosses, double[] debiasedLosses)
    {
        for (int i = 0; i < rows.Length; i++)
        {
            long r = rows[i];
            // The reference's EMA.update: alpha e + (1 - alpha updated) l, so a row's first visit stores its loss.
            double keep = visited[r] ? alpha : 0;
            averageBiased[r] = keep * averageBiased[r] + (1 - keep) * biasedLosses[i];
            averageDebiased[r] = keep * averageDebiased[r] + (1 - keep) * debiasedLosses[i];
            visited[r] = true;
        }
        var present = new bool[rowsByClass.Length];
        foreach (var r in rows) present[labels[r]] = true;
        return WeightsOf(rows, ClassMaxima(averageBiased, present), ClassMaxima(averageDebiased, present));
    }

    /// <summary><c>W = L_B / (L_B + L_D + 1e-8)</c> with each average divided by its class's largest (left at 0 when
    /// the class's averages are all 0).</summary>
    private double[] WeightsOf(long[] rows, double[] maximaBiased, double[] maximaDebiased)
    {
        var weights = new double[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            long r = rows[i], c = labels[r];
            double b = maximaBiased[c] > 0 ? averageBiased[r] / maximaBiased[c] : 0;
            double d = maximaDebiased[c] > 0 ? averageDebiased[r] / maximaDebiased[c] : 0;
            weights[i] = b / (b + d + WeightEpsilon);
        }
        return weights;
    }

    /// <summary>Each class's largest moving average over all its training rows (unvisited rows hold 0), as the
    /// reference's <c>EMA.max_loss</c>; only for the classes in <paramref name="classes"/> when given (0 for the others).</summary>
    private double[] ClassMaxima(double[] averages, bool[]? classes)
    {
        var maxima = new double[rowsByClass.Length];
        for (int c = 0; c < rowsByClass.Length; c++)
        {
            if (classes is not null && !classes[c]) continue;
            foreach (var r in rowsByClass[c]) maxima[c] = Math.Max(maxima[c], averages[r]);
        }
        return maxima;
    }

    private static double[] ToDoubles(Tensor values) => values.detach().to(ScalarType.Float64).cpu().data<double>().ToArray();
}
