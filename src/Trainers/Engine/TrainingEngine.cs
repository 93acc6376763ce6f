using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;
using TorchSharp;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>What a training run produced.</summary>
internal sealed record TrainingOutcome(TrainingHistory History, string? LastCheckpoint, RowDiagnostics? Rows);

/// <summary>
/// The one training loop behind every trainer: epochs of shuffled mini-batches, one dispose scope per step,
/// the objective's loss and state updates, validation after every epoch, model selection (the best epoch's
/// weights kept in memory), checkpoints after every epoch, resumption, cancellation and NaN detection.
/// </summary>
internal sealed class TrainingEngine
{
    private readonly NetworkTrainerOptions options;
    private readonly TrainingObjective objective;
    private readonly Device device;
    private readonly CheckpointStore? checkpoints;
    private readonly string fingerprint;
    private readonly Func<ClassifierNetwork>? networkFactory;

    // networkFactory: builds a fresh network like the trained one, for objectives that train a second model
    // (ObjectiveContext.NetworkFactory); null when the trainer gives none.
    public TrainingEngine(NetworkTrainerOptions options, TrainingObjective objective, Device device, string fingerprint,
        Func<ClassifierNetwork>? networkFactory = null)
    {
        this.options = options;
        this.objective = objective;
        this.device = device;
        this.fingerprint = fingerprint;
        this.networkFactory = networkFactory;
        if (!string.IsNullOrEmpty(options.CheckpointDirectory))
        {
            checkpoints = new CheckpointStore(options.CheckpointDirectory, options.CheckpointsToKeep);
            checkpoints.EnsureWritable();
        }
    }

    public TrainingOutcome Run(ClassifierNetwork network, TensorDataset training, TensorDataset? validation)
    {
        ConvolutionBackendGuard.Process.RequireGuarded(network, "Training");
        network.to(device);
        network.train();
        using var optimizer = CreateOptimizer(network.parameters(), options);
        objective.Initialize(new ObjectiveContext(training, network, device, options.EvaluationBatchSize, options.Seed, networkFactory));

        var history = new List<EpochReport>();
        Dictionary<string, Tensor>? best = null;
        int bestEpoch = -1;
        double bestScore = double.NegativeInfinity;
        double bestTieBreak = double.NegativeInfinity;
        int startEpoch = 0;
        string? lastCheckpoint = null;

        if (options.ResumeFromCheckpoint && checkpoints is not null)
        {
            var skipped = new List<string>();
            var latest = checkpoints.LatestValid(fingerprint, skipped);
            if (latest is { } found)
            {
                (startEpoch, bestEpoch, bestScore, best) = Restore(found.Payload, network, optimizer, history);
                if (bestEpoch >= 0) bestTieBreak = history[bestEpoch].ValidationAccuracy ?? 0;
                startEpoch++;
                lastCheckpoint = found.Path;
                objective.Initialize(new ObjectiveContext(training, network, device, options.EvaluationBatchSize, options.Seed, networkFactory));
            }
        }

        int steps = (training.Count + options.BatchSize - 1) / options.BatchSize;
        try
        {
            for (int epoch = startEpoch; epoch < options.NumberOfEpochs; epoch++)
            {
                var clock = Stopwatch.StartNew();
                objective.OnEpochStart(epoch);
                using var generator = new Generator(BatchOrder.EpochSeed(options.Seed, epoch, 0x6E6E), device);
                var order = BatchOrder.ForEpoch(training.Count, options.Seed, epoch, objective.SamplingWeights(training));
                double lossSum = 0;
                for (int step = 0; step < steps; step++)
                {
                    options.CancellationToken.ThrowIfCancellationRequested();
                    var rows = order.AsSpan(step * options.BatchSize, Math.Min(options.BatchSize, order.Length - step * options.BatchSize)).ToArray();
                    double loss = TrainStep(network, optimizer, training, rows, epoch, step, generator, lastCheckpoint, out double? meanTrace);
                    lossSum += loss;
                    options.StepProgress?.Report(new StepReport(epoch, step, steps, loss, meanTrace));
                }

                var report = new EpochReport { Epoch = epoch, NumberOfEpochs = options.NumberOfEpochs, TrainingLoss = lossSum / steps, Seconds = 0 };
                if (validation is not null)
                {
                    var scores = ValidationScores.Evaluate(network, validation, device, options.EvaluationBatchSize);
                    report = report with
                    {
                        ValidationAccuracy = scores.Accuracy,
                        ValidationWorstGroupAccuracy = scores.WorstGroupAccuracy,
                        ValidationWorstClassAccuracy = scores.WorstClassAccuracy,
                    };
                }
                report = objective.OnEpochEnd(epoch, report) with { Seconds = clock.Elapsed.TotalSeconds };
                history.Add(report);

                // Ties on the selection metric (common for worst-group accuracy over many small groups) go to an epoch the
                // objective trained over one trained as plain ERM (a warm-up), then to the better validation accuracy.
                bool warmup = epoch < objective.UnconstrainedEpochs;
                bool bestIsWarmup = bestEpoch >= 0 && bestEpoch < objective.UnconstrainedEpochs;
                double? score = warmup && !objective.SelectWarmupEpochs ? null : SelectionScore(report);
                if (score is double s && (s > bestScore || (s == bestScore
                    && ((bestIsWarmup && !warmup) || (bestIsWarmup == warmup && (report.ValidationAccuracy ?? 0) > bestTieBreak)))))
                {
                    bestScore = s;
                    bestTieBreak = report.ValidationAccuracy ?? 0;
                    bestEpoch = epoch;
                    DisposeAll(best);
                    best = CopyState(network);
                }
                if (checkpoints is not null)
                    lastCheckpoint = checkpoints.Write(epoch, fingerprint, Snapshot(epoch, network, optimizer, history, bestEpoch, bestScore, best));
                options.Progress?.Report(report);
            }

            int selected = options.ModelSelection == ModelSelection.LastEpoch || best is null ? history.Count - 1 : bestEpoch;
            if (options.ModelSelection != ModelSelection.LastEpoch && best is not null)
                using (no_grad())
                    foreach (var (name, tensor) in network.state_dict()) tensor.copy_(best[name]);
            network.eval();
            return new TrainingOutcome(new TrainingHistory(history, selected, options.ModelSelection), lastCheckpoint, objective.Diagnostics());
        }
        finally
        {
            DisposeAll(best);
        }
    }

    private double TrainStep(ClassifierNetwork network, TorchSharp.Modules.OptimizerHelper optimizer, TensorDataset training, long[] rows, int epoch, int step,
        Generator generator, string? lastCheckpoint, out double? meanTrace)
    {
        using var scope = NewDisposeScope();
        var inputs = training.FeatureBatch(rows, device);
        if (options.Augmentation) inputs = ImageAugmentation.Apply(inputs, generator);
        var batch = new TrainingBatch(network, inputs, training.LabelBatch(rows, device), training.GroupBatch(rows, device),
            training.WeightBatch(rows, device), tensor(rows), epoch, generator);
        optimizer.zero_grad();
        var result = objective.Step(batch);
        double value = result.Objective.item<float>();
        if (!double.IsFinite(value) || !double.IsFinite(result.Loss))
            throw new InvalidOperationException(
                $"Training diverged: the loss is {(double.IsFinite(result.Loss) ? value : result.Loss)} at epoch {epoch}, step {step}. " +
                (lastCheckpoint is null ? "No checkpoint was written yet. " : $"The last good checkpoint is '{lastCheckpoint}'. ") +
                "Lower LearningRate (or DualLearningRate / MaxDual for FlatDebias), and check the features for extreme values.");
        result.Objective.backward();
        optimizer.step();
        objective.AfterStep(batch, result);
        meanTrace = result.Traces is null ? null : result.Traces.mean().item<float>();
        return result.Loss;
    }

    private double? SelectionScore(EpochReport report) => options.ModelSelection switch
    {
        ModelSelection.ValidationAccuracy => report.ValidationAccuracy,
        ModelSelection.ValidationWorstGroupAccuracy => report.ValidationWorstGroupAccuracy,
        ModelSelection.ValidationWorstClassAccuracy => report.ValidationWorstClassAccuracy,
        _ => null,
    };

    /// <summary>The optimiser the options name, over <paramref name="parameters"/> (also LfF's biased model's): TorchSharp's
    /// arithmetic, with scalars kept alive through each native call (<see cref="ScalarSafeOptimizers"/>).</summary>
    internal static TorchSharp.Modules.OptimizerHelper CreateOptimizer(IEnumerable<TorchSharp.Modules.Parameter> parameters, NetworkTrainerOptions options) => options.Optimizer switch
    {
        OptimizerKind.Adam => new ScalarSafeOptimizers.Adam(parameters, options.LearningRate, options.WeightDecay),
        _ => new ScalarSafeOptimizers.SGD(parameters, options.LearningRate, options.Momentum, options.WeightDecay),
    };

    /// <summary>A restored optimiser takes the learning rate, momentum and weight decay of the current options (the saved
    /// state keeps its moments), so a run that diverged can resume from its last checkpoint with a lower rate.</summary>
    internal static void ApplyCurrentHyperparameters(TorchSharp.Modules.OptimizerHelper optimizer, NetworkTrainerOptions options)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = options.LearningRate;
            group.InitialLearningRate = options.LearningRate;
            switch (group)
            {
                case TorchSharp.Modules.SGD.ParamGroup sgd:
                    sgd.Momentum = options.Momentum;
                    sgd.Options.weight_decay = options.WeightDecay;
                    break;
                case TorchSharp.Modules.Adam.ParamGroup adam:
                    adam.Options.weight_decay = options.WeightDecay;
                    break;
            }
        }
    }

    private static Dictionary<string, Tensor> CopyState(ClassifierNetwork network)
        => network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().cpu());

    private static void DisposeAll(Dictionary<string, Tensor>? state)
    {
        if (state is null) return;
        foreach (var t in state.Values) t.Dispose();
    }

    private byte[] Snapshot(int epoch, ClassifierNetwork network, TorchSharp.Modules.OptimizerHelper optimizer, List<EpochReport> history,
        int bestEpoch, double bestScore, Dictionary<string, Tensor>? best)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(epoch);
            network.save(writer);
            optimizer.save_state_dict(writer);
            objective.Save(writer);
            writer.Write(JsonSerializer.Serialize(history.Select(r => r with { }).ToList()));
            writer.Write(bestEpoch);
            writer.Write(bestScore);
            writer.Write(best is not null);
            if (best is not null)
            {
                writer.Write(best.Count);
                foreach (var (name, t) in best)
                {
                    writer.Write(name);
                    t.Save(writer);
                }
            }
        }
        return stream.ToArray();
    }

    private (int Epoch, int BestEpoch, double BestScore, Dictionary<string, Tensor>? Best) Restore(byte[] payload, ClassifierNetwork network,
        TorchSharp.Modules.OptimizerHelper optimizer, List<EpochReport> history)
    {
        using var reader = new BinaryReader(new MemoryStream(payload), Encoding.UTF8);
        int epoch = reader.ReadInt32();
        network.load(reader);
        network.to(device);
        optimizer.load_state_dict(reader);
        ApplyCurrentHyperparameters(optimizer, options);
        objective.Load(reader);
        history.AddRange(JsonSerializer.Deserialize<List<EpochReport>>(reader.ReadString()) ?? []);
        int bestEpoch = reader.ReadInt32();
        double bestScore = reader.ReadDouble();
        Dictionary<string, Tensor>? best = null;
        if (reader.ReadBoolean())
        {
            best = [];
            int count = reader.ReadInt32();
            for (int i = 0; i < count; i++)
            {
                string name = reader.ReadString();
                best[name] = Tensor.Load(reader);
            }
        }
        return (epoch, bestEpoch, bestScore, best);
    }
}
