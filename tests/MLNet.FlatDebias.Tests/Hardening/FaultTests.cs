using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Tests.Trainers;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Hardening;

/// <summary>Faults during training: divergence, checkpoint writes that fail, damaged model files, long runs.</summary>
[Collection(TorchCollection.Name)]
public sealed class FaultTests
{
    private readonly MLContext ml = new(0);

    private static ErmTrainer.Options Small(int epochs = 2) => new()
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = epochs, BatchSize = 16, Device = TrainingDevice.Cpu, Seed = 2,
    };

    [Fact]
    public void A_diverging_run_stops_with_the_epoch_the_step_and_the_last_good_checkpoint()
    {
        using var folder = new TempFolder();
        var options = Small(3);
        options.CheckpointDirectory = folder.Path;
        var good = BiasedShapes.Rows(64, 0.5, 51);
        var first = Small(3);
        first.CheckpointDirectory = folder.Path;
        first.Progress = new SynchronousProgress<EpochReport>(r => { if (r.Epoch == 0) throw new OperationCanceledException("stop after epoch 0"); });
        Assert.ThrowsAny<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.Erm(first).Fit(BiasedShapes.ToDataView(ml, good)));

        // Resuming with a learning rate that blows the weights up: the loss stops being finite within a few steps.
        var bad = good;
        options.LearningRate = 1e38;
        options.Optimizer = OptimizerKind.Sgd;
        options.ResumeFromCheckpoint = true;
        int steps = 0;
        options.StepProgress = new SynchronousProgress<StepReport>(_ => steps++);
        var e = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(BiasedShapes.ToDataView(ml, bad)));
        Assert.Contains("Training diverged", e.Message);
        Assert.Matches(@"at epoch 1, step \d+\.", e.Message);
        Assert.Contains(Path.Combine(folder.Path, "checkpoint-epoch0000.fdck"), e.Message);
        Assert.True(steps <= 4, "training must stop at the first non-finite loss");
        CheckpointStore.Read(Path.Combine(folder.Path, "checkpoint-epoch0000.fdck")); // the named checkpoint is intact

        var fresh = Small(1);
        fresh.LearningRate = 1e38;
        var f = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(fresh).Fit(BiasedShapes.ToDataView(ml, bad)));
        Assert.Matches(@"at epoch 0, step \d+\.", f.Message);
        Assert.Contains("No checkpoint was written yet", f.Message);
    }

    [Fact]
    public void A_checkpoint_write_that_fails_mid_run_is_reported_and_earlier_checkpoints_stay_intact()
    {
        using var folder = new TempFolder();
        var options = Small(3);
        options.CheckpointDirectory = folder.Path;
        // Block the temporary file of epoch 1's checkpoint with a folder of the same name: the write fails as on a full disk.
        options.Progress = new SynchronousProgress<EpochReport>(r =>
        {
            if (r.Epoch == 0) Directory.CreateDirectory(Path.Combine(folder.Path, $"checkpoint-epoch0001.fdck.tmp-{Environment.ProcessId}"));
        });
        var e = Assert.Throws<IOException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(48, 0.5, 52))));
        Assert.Contains("checkpoint-epoch0001.fdck", e.Message);
        Assert.Contains("Earlier checkpoints", e.Message);
        var (_, epoch, _) = CheckpointStore.Read(Path.Combine(folder.Path, "checkpoint-epoch0000.fdck"));
        Assert.Equal(0, epoch);
    }

    [Fact]
    public void A_truncated_or_corrupted_model_zip_fails_with_a_clear_error()
    {
        var data = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.5, 53));
        using var model = ml.MulticlassClassification.Trainers.Erm(Small(1)).Fit(data);
        using var folder = new TempFolder();
        var path = Path.Combine(folder.Path, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 3)]);
        var e = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(path, out _));
        Assert.IsNotType<NullReferenceException>(e);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void Live_tensors_and_managed_memory_stay_flat_over_many_steps()
    {
        var counts = new List<long>();
        var memory = new List<long>();
        var options = new FlatDebiasTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 8, BatchSize = 8, Device = TrainingDevice.Cpu, Seed = 3,
            TraceScope = TraceScope.Full, TraceGradient = TraceGradient.Full,
            TraceBoundQuantile = 0.5, DualLearningRate = 1,
            StepProgress = new SynchronousProgress<StepReport>(_ =>
            {
                counts.Add(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
                if (counts.Count % 16 == 0) memory.Add(GC.GetTotalMemory(forceFullCollection: true));
            }),
        };
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(4, 55));
        options.ValidationSet = validation;
        using var model = ml.MulticlassClassification.Trainers.FlatDebias(options).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.9, 54)));
        Assert.True(model.History.Epochs[^1].ActiveConstraintShare > 0, "the penalty path should have run");
        Assert.Equal(64, counts.Count);
        // After the first epochs (optimiser state, multipliers, best weights), the count of live tensors does not grow.
        long settled = counts[24];
        Assert.All(counts.Skip(24), c => Assert.True(c <= settled, $"live tensors grew from {settled} to {c}"));
        Assert.True(memory[^1] < memory[1] + 8_000_000, $"managed memory grew from {memory[1]} to {memory[^1]}");
    }
}
