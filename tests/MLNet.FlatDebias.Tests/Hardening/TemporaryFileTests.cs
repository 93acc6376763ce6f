using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Onnx;

namespace MLNet.FlatDebias.Tests.Hardening;

/// <summary>ML.NET's <c>ApplyOnnxModel</c> copies a graph given as a stream to a temporary file that only disposing its
/// transformer deletes, and .NET runs no finalizer at exit: every model nobody disposed left its graph in the temporary
/// folder. A fitted model's scoring chain is registered for disposal at exit (<see cref="ExitCleanup"/>); the
/// pretrained-features step reads its graph from one file per graph (PretrainedFeaturesTests checks that).</summary>
[Collection(TorchCollection.Name)]
public sealed class TemporaryFileTests
{
    [Fact]
    public void A_fitted_models_graph_lives_in_its_own_file_which_saving_reads_and_disposing_deletes()
    {
        var ml = new MLContext(0);
        var train = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Rows(64, 0.9, seed: 1));
        var before = Directory.GetFiles(Path.GetTempPath()).ToHashSet();
        int registered = ExitCleanup.Default.Count;
        var model = ml.MulticlassClassification.Trainers.Erm(new ErmTrainer.Options
        {
            Network = NetworkKind.Linear, NumberOfEpochs = 1, BatchSize = 32, Seed = 0, Device = TrainingDevice.Cpu,
        }).Fit(train);
        var path = MlNetScoringChain.GraphFile(model.ScoringChain);
        Assert.NotNull(path);
        Assert.Equal(OnnxModelFiles.Folder, Path.GetDirectoryName(path));
        var graph = File.ReadAllBytes(path);
        Assert.True(ExitCleanup.Default.Count > registered, "the graph file must be registered for deletion at exit");
        // No copy of the graph in the temporary folder (ML.NET 6 makes one from a stream and never deletes it).
        Assert.DoesNotContain(Directory.GetFiles(Path.GetTempPath()).Where(f => !before.Contains(f)), f => File.ReadAllBytes(f).AsSpan().SequenceEqual(graph));

        using var folder = new TempFolder("graph-file");
        var zip = folder.Combine("model.zip");
        ml.Model.Save(model, train.Schema, zip);                                         // reads the graph file
        var expected = model.Transform(train).GetColumn<float[]>("Score").First();
        model.Dispose();
        Assert.False(File.Exists(path), "disposing the model deletes its graph file");
        var loaded = new MLContext(1).Model.Load(zip, out _);                            // the zip holds the graph itself
        Assert.Equal(expected, loaded.Transform(train).GetColumn<float[]>("Score").First());
    }

    [Fact]
    public void The_registry_disposes_each_live_object_once_and_keeps_none_alive()
    {
        var cleanup = new ExitCleanup();
        var kept = new Counted();
        cleanup.Register(kept);
        RegisterUnreferenced(cleanup);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.Equal(1, cleanup.Count);                 // the unreferenced one was collected: registering keeps nothing alive
        Assert.Equal(1, cleanup.DisposeAll());
        Assert.Equal(1, kept.Disposals);
        Assert.Equal(0, cleanup.DisposeAll());          // each object once
        Assert.Equal(1, kept.Disposals);

        var failing = new Counted { Throws = true };
        var after = new Counted();
        cleanup.Register(failing);
        cleanup.Register(after);
        Assert.Equal(2, cleanup.DisposeAll());          // a failure does not stop the others
        Assert.Equal(1, after.Disposals);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void RegisterUnreferenced(ExitCleanup cleanup) => cleanup.Register(new Counted());

    private sealed class Counted : IDisposable
    {
        public int Disposals { get; private set; }

        public bool Throws { get; init; }

        public void Dispose()
        {
            Disposals++;
            if (Throws) throw new InvalidOperationException("disposal failed");
        }
    }
}
