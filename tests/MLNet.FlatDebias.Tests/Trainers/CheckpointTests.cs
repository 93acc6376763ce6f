using Microsoft.ML;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Trainers;

[Collection(TorchCollection.Name)]
public sealed class CheckpointTests
{
    private static FlatDebiasTrainer.Options Options(string? folder, int epochs = 4) => new()
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = epochs, BatchSize = 16, LearningRate = 3e-3,
        Optimizer = OptimizerKind.Adam, Seed = 5, Device = TrainingDevice.Cpu, CheckpointDirectory = folder,
        WarmupEpochs = 1, TraceBoundQuantile = 0.5, TraceEstimator = TraceEstimator.Sampled,
        ModelSelection = ModelSelection.ValidationWorstGroupAccuracy, GroupColumnName = "Group",
    };

    [Fact]
    public void A_run_cancelled_after_an_epoch_and_resumed_ends_with_the_weights_of_an_uninterrupted_run()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(96, 0.9, 31));
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(8, 32));
        using var uninterrupted = ml.MulticlassClassification.Trainers.FlatDebias(Options(null)).Fit(train, validation);

        using var folder = new TempFolder();
        using var cancel = new CancellationTokenSource();
        var interrupted = Options(folder.Path);
        interrupted.CancellationToken = cancel.Token;
        interrupted.Progress = new SynchronousProgress<EpochReport>(r => { if (r.Epoch == 1) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => ml.MulticlassClassification.Trainers.FlatDebias(interrupted).Fit(train, validation));
        var store = new CheckpointStore(folder.Path, 2);
        Assert.Equal(new[] { 1, 0 }, store.List().Select(c => c.Epoch));

        var resumed = Options(folder.Path);
        resumed.ResumeFromCheckpoint = true;
        var epochsRun = new List<int>();
        resumed.Progress = new SynchronousProgress<EpochReport>(r => epochsRun.Add(r.Epoch));
        using var model = ml.MulticlassClassification.Trainers.FlatDebias(resumed).Fit(train, validation);

        Assert.Equal(new[] { 2, 3 }, epochsRun); // only the missing epochs ran
        Assert.Equal(4, model.History.Epochs.Count);
        Assert.Equal(uninterrupted.History.SelectedEpoch, model.History.SelectedEpoch);
        Assert.Equal(uninterrupted.History.Epochs.Select(e => e.TrainingLoss), model.History.Epochs.Select(e => e.TrainingLoss));
        var expected = uninterrupted.Network.state_dict();
        foreach (var (name, tensor) in model.Network.state_dict())
            Assert.True(tensor.Identical(expected[name]), $"{name} differs after resuming");
    }

    [Fact]
    public void A_damaged_newest_checkpoint_is_detected_and_the_previous_one_is_used()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.9, 33));
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(6, 34));
        using var folder = new TempFolder();
        using (ml.MulticlassClassification.Trainers.FlatDebias(Options(folder.Path, epochs: 3)).Fit(train, validation)) { }
        var store = new CheckpointStore(folder.Path, 2);
        var newest = store.List()[0];
        Assert.Equal(2, newest.Epoch);

        var bytes = File.ReadAllBytes(newest.Path);
        File.WriteAllBytes(newest.Path, bytes[..(bytes.Length / 2)]);
        var truncated = Assert.Throws<InvalidDataException>(() => CheckpointStore.Read(newest.Path));
        Assert.Contains(newest.Path, truncated.Message);
        Assert.Contains("truncated", truncated.Message);

        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(newest.Path, bytes);
        var corrupted = Assert.Throws<InvalidDataException>(() => CheckpointStore.Read(newest.Path));
        Assert.Contains("corrupted", corrupted.Message);

        var skipped = new List<string>();
        var previous = store.LatestValid(CheckpointStore.Read(store.List()[1].Path).Fingerprint, skipped);
        Assert.Equal(1, previous!.Value.Epoch);
        Assert.Single(skipped);

        var resumed = Options(folder.Path, epochs: 3);
        resumed.ResumeFromCheckpoint = true;
        var epochsRun = new List<int>();
        resumed.Progress = new SynchronousProgress<EpochReport>(r => epochsRun.Add(r.Epoch));
        using var model = ml.MulticlassClassification.Trainers.FlatDebias(resumed).Fit(train, validation);
        Assert.Equal(new[] { 2 }, epochsRun);
    }

    [Fact]
    public void An_unwritable_checkpoint_folder_is_reported_before_training()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.9, 35));
        using var folder = new TempFolder();
        var blocker = Path.Combine(folder.Path, "not-a-folder");
        File.WriteAllText(blocker, "a file where the checkpoint folder should be");
        var options = Options(Path.Combine(blocker, "checkpoints"));
        options.ModelSelection = ModelSelection.LastEpoch;
        var steps = 0;
        options.StepProgress = new SynchronousProgress<StepReport>(_ => steps++);
        var e = Assert.Throws<IOException>(() => ml.MulticlassClassification.Trainers.FlatDebias(options).Fit(train));
        Assert.Contains(Path.Combine(blocker, "checkpoints"), e.Message);
        Assert.Equal(0, steps);
    }

    [Fact]
    public void A_checkpoint_of_other_settings_is_refused()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(32, 0.9, 36));
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(4, 37));
        using var folder = new TempFolder();
        using (ml.MulticlassClassification.Trainers.FlatDebias(Options(folder.Path, epochs: 3)).Fit(train, validation)) { }
        var other = Options(folder.Path, epochs: 3);
        other.Seed = 99;
        other.ResumeFromCheckpoint = true;
        var e = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.FlatDebias(other).Fit(train, validation));
        Assert.Contains("other settings", e.Message);
    }
}
