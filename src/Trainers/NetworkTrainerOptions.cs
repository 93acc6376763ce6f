using Microsoft.ML;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Settings shared by <see cref="ErmTrainer"/>, <see cref="GroupDroTrainer"/> and <see cref="FlatDebiasTrainer"/>:
/// the columns, the network, the optimiser, the schedule, model selection and checkpoints.
/// </summary>
public abstract class NetworkTrainerOptions
{
    /// <summary>The label column: a key column (e.g. from <c>MapValueToKey</c>). Default <c>"Label"</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The feature column: a known-size float vector. The image shape is taken from its dimensions
    /// (e.g. <c>[3, 224, 224]</c> as ExtractPixels writes it) or from <see cref="ImageShape"/>; a one-dimensional vector
    /// of n values (e.g. a frozen pretrained network's features) is taken as it is by the <see cref="NetworkKind.Mlp"/>
    /// and <see cref="NetworkKind.Linear"/> networks. Default <c>"Features"</c>.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>The group column (key, string, integer or bool), or null. Used for validation worst-group
    /// accuracy; required by GroupDRO for training. Default null (GroupDRO: <c>"Group"</c>).</summary>
    public string? GroupColumnName { get; set; }

    /// <summary>A per-row weight column (Single or Double, &gt;= 0), or null for equal weights. Default null.</summary>
    public string? ExampleWeightColumnName { get; set; }

    /// <summary>The network family. Default <see cref="NetworkKind.ResNet50"/> (the Waterbirds literature's);
    /// use <see cref="NetworkKind.SmallCnn"/> or <see cref="NetworkKind.Mlp"/> for small images, and
    /// <see cref="NetworkKind.Linear"/> (logistic regression) or <see cref="NetworkKind.Mlp"/> on flat feature vectors
    /// such as a frozen pretrained network's features; the convolutional kinds need an image shape.</summary>
    public NetworkKind Network { get; set; } = TrainerDefaults.Network;

    /// <summary>Network width override (ResNet stem width, default 64; SmallCnn first-block channels, default 32;
    /// Mlp hidden width, default 256; ignored by Linear, which has no hidden layer); null for the default.
    /// Range: 1 and up.</summary>
    public int? NetworkWidth { get; set; }

    /// <summary>The image shape <c>[C, H, W]</c> when the feature column is a flat vector without dimensions;
    /// null (default) to take it from the column. Its size must equal the column's. The convolutional networks
    /// (SmallCnn, the ResNets) need it for a one-dimensional column; <see cref="NetworkKind.Mlp"/> and
    /// <see cref="NetworkKind.Linear"/> flatten their input and take such a column of n values without it, as the
    /// shape <c>[n, 1, 1]</c> (n feature channels of 1x1 pixel; <see cref="Augmentation"/> then changes nothing).</summary>
    public ImageShape? ImageShape { get; set; }

    /// <summary>Weights to start from, or null (default): a PyTorch <c>.pth</c>/<c>.pt</c> or <c>.safetensors</c> state
    /// dictionary (loaded by name; a head of another size is left as initialised), or an <c>.onnx</c> file exported by
    /// this library (<see cref="ClassifierNetworkTransformer.ExportOnnx"/>; its weights load by name, so a saved model
    /// can be trained further). With <see cref="PretrainedWeights"/> = <see cref="PretrainedWeightsSource.ImageNetResNet18"/>
    /// it names that model's <c>ResNet18.onnx</c> instead.</summary>
    public string? PretrainedWeightsPath { get; set; }

    /// <summary>Built-in starting weights. Default <see cref="PretrainedWeightsSource.None"/>.</summary>
    public PretrainedWeightsSource PretrainedWeights { get; set; }

    /// <summary>Number of passes over the training set. Default 10. Range: 1 and up.</summary>
    public int NumberOfEpochs { get; set; } = TrainerDefaults.NumberOfEpochs;

    /// <summary>Rows per training step. Default 32. Range: 1 and up.</summary>
    public int BatchSize { get; set; } = TrainerDefaults.BatchSize;

    /// <summary>Optimiser learning rate. Default 1e-3. Range: &gt; 0.</summary>
    public double LearningRate { get; set; } = TrainerDefaults.LearningRate;

    /// <summary>SGD momentum. Default 0.9. Range: [0, 1). Ignored by Adam.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>Weight decay (L2). Default 1e-4. Range: &gt;= 0.</summary>
    public double WeightDecay { get; set; } = 1e-4;

    /// <summary>The optimiser. Default <see cref="OptimizerKind.Sgd"/>.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Sgd;

    /// <summary>Seed for weight initialisation, data order and sampling: the same seed on the same machine
    /// gives the same model. Default 0. This is the only seed the trainers use: <c>new MLContext(seed: ...)</c> does not
    /// reach them (another MLContext seed gives the same model; another <c>Seed</c> here gives another one).</summary>
    public int Seed { get; set; }

    /// <summary>libtorch's intra-op threads, set for the whole process at the start of <c>Fit</c>
    /// (<see cref="Runtime.TorchRuntime.SetNumberOfThreads"/>), or null (default) to leave libtorch's setting (one per core, or
    /// <c>OMP_NUM_THREADS</c>). Range: 1 and up. Results depend on it: the same seed repeats at the same thread count.</summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>Where to train. Default <see cref="TrainingDevice.Auto"/> (CUDA when available).</summary>
    public TrainingDevice Device { get; set; } = TrainingDevice.Auto;

    /// <summary>When <see cref="Device"/> is <see cref="TrainingDevice.Cuda"/> and no GPU is usable: true to train
    /// on the CPU, false (default) to throw, as ML.NET's <c>MLContext.FallbackToCpu</c>.</summary>
    public bool FallbackToCpu { get; set; }

    /// <summary>A validation set with the same columns, evaluated after every epoch; or null. Default null.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Which epoch's weights to keep. Default <see cref="Trainers.ModelSelection.LastEpoch"/>; the
    /// validation-based choices need <see cref="ValidationSet"/>.</summary>
    public ModelSelection ModelSelection { get; set; } = ModelSelection.LastEpoch;

    /// <summary>Receives a report after every epoch (loss, traces, validation numbers, time). Default null.</summary>
    public IProgress<EpochReport>? Progress { get; set; }

    /// <summary>Receives a report after every step (for live progress bars). Default null.</summary>
    public IProgress<StepReport>? StepProgress { get; set; }

    /// <summary>Receives warnings about the setup before the first step, such as an image size off the network's design
    /// point (<see cref="Networks.NetworkInputSize"/>); they are also kept in <see cref="TrainingHistory.Warnings"/>.
    /// Default null: each warning is written to standard error, prefixed <c>MLNet.FlatDebias warning:</c> (set a sink
    /// that ignores them to keep the console quiet).</summary>
    public IProgress<string>? Warnings { get; set; }

    /// <summary>Stops training between steps; the last finished epoch's checkpoint stays usable. Default none.</summary>
    public CancellationToken CancellationToken { get; set; }

    /// <summary>A folder for training checkpoints written after every epoch (atomically), or null for none. Default null.</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>When true and <see cref="CheckpointDirectory"/> holds a checkpoint of this run's settings,
    /// training resumes after its epoch. Default false. The learning rate, momentum and weight decay of the
    /// current options apply from then on (so a run that diverged can resume from its last good checkpoint with a
    /// lower rate); with unchanged options the resumed run ends with the weights of an uninterrupted one.</summary>
    public bool ResumeFromCheckpoint { get; set; }

    /// <summary>How many checkpoints to keep (the newest). Default 2, so the previous one survives a damaged write.
    /// Range: 1 and up.</summary>
    public int CheckpointsToKeep { get; set; } = 2;

    /// <summary>Random resized crop (scale 0.7-1, aspect 3/4-4/3) and horizontal flip of training images, as the
    /// Waterbirds literature does. Default false.</summary>
    public bool Augmentation { get; set; }

    /// <summary>How the training features are held in memory. Default <see cref="Trainers.FeatureStorage.Auto"/>.</summary>
    public FeatureStorage FeatureStorage { get; set; } = FeatureStorage.Auto;

    /// <summary>Where the training and validation features are held: in memory, or in a memory-mapped file in
    /// <see cref="CacheDirectory"/> for sets larger than memory (same batches, same weights). Default
    /// <see cref="Trainers.FeatureCache.Auto"/>: in memory up to <see cref="MaxInMemoryFeatureBytes"/>.</summary>
    public FeatureCache FeatureCache { get; set; } = FeatureCache.Auto;

    /// <summary>Under <see cref="Trainers.FeatureCache.Auto"/>, the bytes of features (counted as float32, 4 bytes per
    /// value, which is what reading holds before storing) that may stay in memory per data set; beyond it they go to a
    /// file. Default null: half the memory available to the process (<c>GC.GetGCMemoryInfo().TotalAvailableMemoryBytes</c>).
    /// Range: 0 and up.</summary>
    public long? MaxInMemoryFeatureBytes { get; set; }

    /// <summary>The folder for feature cache files (<see cref="FeatureCache"/>); created when missing. The files are
    /// removed when training ends (on Linux and macOS as soon as they are mapped). Default null: the system's temporary
    /// folder; where that is a RAM disk (<c>/tmp</c> as tmpfs), name a folder on a disk.</summary>
    public string? CacheDirectory { get; set; }

    /// <summary>Rows per step when evaluating the validation set. Default 256. Range: 1 and up.</summary>
    public int EvaluationBatchSize { get; set; } = 256;

    /// <summary>A copy of these options for one stage of a two-stage trainer: its own number of epochs and model
    /// selection, checkpoints in a <c>stageN</c> sub-folder, and reports tagged with the stage.</summary>
    internal NetworkTrainerOptions ForStage(int stage, int epochs, ModelSelection selection)
    {
        var copy = (NetworkTrainerOptions)MemberwiseClone();
        copy.NumberOfEpochs = epochs;
        copy.ModelSelection = selection;
        if (!string.IsNullOrEmpty(CheckpointDirectory))
            copy.CheckpointDirectory = Path.Combine(CheckpointDirectory, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"stage{stage}"));
        if (Progress is { } progress) copy.Progress = new StageProgress(progress, stage);
        return copy;
    }

    /// <summary>Tags each epoch report with its stage before passing it on.</summary>
    private sealed class StageProgress(IProgress<EpochReport> inner, int stage) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => inner.Report(value with { Stage = stage });
    }
}
