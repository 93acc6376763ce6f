using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// Features held in a memory-mapped file (<see cref="FeatureCache.Disk"/>, or <see cref="FeatureCache.Auto"/> past its
/// budget) must train exactly as features held in memory, leave no file behind, and report a cache folder that cannot
/// be written before any training step.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class FeatureCacheTests
{
    // 600 rows: more than one 512-row chunk, so chunk boundaries and the partial last chunk are exercised.
    private const int TrainingRows = 600;

    private static ErmTrainer.Options Options(FeatureStorage storage, FeatureCache cache, string directory, long? budget = null) => new()
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 2, BatchSize = 64, LearningRate = 3e-3,
        Optimizer = OptimizerKind.Adam, Seed = 3, Device = TrainingDevice.Cpu, GroupColumnName = "Group",
        ModelSelection = ModelSelection.ValidationWorstGroupAccuracy,
        FeatureStorage = storage, FeatureCache = cache, MaxInMemoryFeatureBytes = budget, CacheDirectory = directory,
    };

    /// <summary>Rows whose values are multiples of 1/255, so <see cref="FeatureStorage.UInt8"/> is exact.</summary>
    private static List<BiasedShapes.Row> Quantised(List<BiasedShapes.Row> rows)
    {
        foreach (var row in rows)
            for (int i = 0; i < row.Features.Length; i++) row.Features[i] = MathF.Round(row.Features[i] * 255f) / 255f;
        return rows;
    }

    [Theory]
    [InlineData(FeatureStorage.Float32)]
    [InlineData(FeatureStorage.Float16)]
    [InlineData(FeatureStorage.UInt8)]
    public void Features_on_disk_train_the_same_model_as_features_in_memory(FeatureStorage storage)
    {
        using var folder = new TempFolder("feature-cache");
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, Quantised(BiasedShapes.Rows(TrainingRows, 0.9, 31)));
        var validation = BiasedShapes.ToDataView(ml, Quantised(BiasedShapes.Groups(10, 32)));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(20, 33));

        using var inMemory = ml.MulticlassClassification.Trainers.Erm(Options(storage, FeatureCache.Memory, folder.Path)).Fit(train, validation);
        using var onDisk = ml.MulticlassClassification.Trainers.Erm(Options(storage, FeatureCache.Disk, folder.Path)).Fit(train, validation);
        AssertUnmapped(folder.Path);
        // Auto with a budget smaller than one chunk: starts in memory, moves to the file at the first chunk.
        using var spilled = ml.MulticlassClassification.Trainers.Erm(Options(storage, FeatureCache.Auto, folder.Path, budget: 1000)).Fit(train, validation);
        AssertUnmapped(folder.Path);
        // Auto with a budget of exactly one full chunk (512 rows as float32): the first chunk stays in memory, the last
        // one passes the budget, and both go to the file.
        long oneChunk = 512L * 3 * BiasedShapes.Size * BiasedShapes.Size * sizeof(float);
        using var spilledLate = ml.MulticlassClassification.Trainers.Erm(Options(storage, FeatureCache.Auto, folder.Path, budget: oneChunk)).Fit(train, validation);
        AssertUnmapped(folder.Path);
        using var auto = ml.MulticlassClassification.Trainers.Erm(Options(storage, FeatureCache.Auto, folder.Path)).Fit(train, validation);

        Assert.False(inMemory.History.FeaturesOnDisk);
        Assert.True(onDisk.History.FeaturesOnDisk);
        Assert.True(spilled.History.FeaturesOnDisk);
        Assert.True(spilledLate.History.FeaturesOnDisk);
        Assert.False(auto.History.FeaturesOnDisk);

        var expected = Scores(ml, inMemory, test);
        Assert.Equal(expected, Scores(ml, onDisk, test));
        Assert.Equal(expected, Scores(ml, spilled, test));
        Assert.Equal(expected, Scores(ml, spilledLate, test));
        Assert.Equal(expected, Scores(ml, auto, test));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.TrainingLoss), onDisk.History.Epochs.Select(e => e.TrainingLoss));
        Assert.Equal(inMemory.History.Epochs.Select(e => e.ValidationWorstGroupAccuracy), onDisk.History.Epochs.Select(e => e.ValidationWorstGroupAccuracy));

        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public void No_cache_file_outlives_a_failed_fit()
    {
        using var folder = new TempFolder("feature-cache");
        var ml = new MLContext(0);
        // One class only: reading succeeds (and writes the file), then the data check fails.
        var rows = BiasedShapes.Rows(40, 0.5, 34);
        foreach (var row in rows) row.Label = BiasedShapes.Labels[0];
        var options = Options(FeatureStorage.Float32, FeatureCache.Disk, folder.Path);
        options.ModelSelection = ModelSelection.LastEpoch;
        var e = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(BiasedShapes.ToDataView(ml, rows)));
        Assert.Contains("only one class", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder.Path));
    }

    [Fact]
    public void An_unwritable_cache_directory_is_named_before_any_training_step()
    {
        using var folder = new TempFolder("feature-cache");
        string blocker = folder.Combine("a-file");
        File.WriteAllText(blocker, "not a folder");
        string directory = Path.Combine(blocker, "cache");
        var ml = new MLContext(0);
        var options = Options(FeatureStorage.Float32, FeatureCache.Disk, directory);
        options.ModelSelection = ModelSelection.LastEpoch;
        int steps = 0;
        options.StepProgress = new SynchronousProgress<StepReport>(_ => steps++);

        var e = Assert.Throws<IOException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(40, 0.5, 35))));
        Assert.Contains(directory, e.Message);
        Assert.Contains("CacheDirectory", e.Message);
        Assert.Equal(0, steps);
    }

    [Fact]
    public void A_negative_memory_budget_is_rejected_by_name()
    {
        var ml = new MLContext(0);
        var options = Options(FeatureStorage.Auto, FeatureCache.Auto, Path.GetTempPath(), budget: -1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.Erm(options).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(20, 0.5, 36))));
        Assert.Contains(nameof(ErmTrainer.Options.MaxInMemoryFeatureBytes), e.Message);
    }

    /// <summary>On Linux the cache file's name goes as soon as it is mapped; after Fit the mapping must be gone too.</summary>
    private static void AssertUnmapped(string folder)
    {
        if (OperatingSystem.IsLinux())
            Assert.DoesNotContain(folder, File.ReadAllText("/proc/self/maps"));
    }

    private static float[][] Scores(MLContext ml, ITransformer model, IDataView data)
        => model.Transform(data).GetColumn<float[]>("Score").ToArray();
}
