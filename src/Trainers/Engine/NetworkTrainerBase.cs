using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Objectives;
using TorchSharp;
using MLNet.FlatDebias.Runtime;
using MLNet.FlatDebias.Trainers.Onnx;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// What <see cref="ErmTrainer"/>, <see cref="GroupDroTrainer"/> and <see cref="FlatDebiasTrainer"/> share: an ML.NET
/// estimator that materialises the data once, trains a TorchSharp network with the trainer's objective on one
/// training engine, and returns a <see cref="ClassifierNetworkTransformer"/>.
/// </summary>
/// <typeparam name="TOptions">The trainer's options.</typeparam>
public abstract class NetworkTrainerBase<TOptions> : IEstimator<ClassifierNetworkTransformer>
    where TOptions : NetworkTrainerOptions
{
    private protected NetworkTrainerBase(TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        TrainerOptions = options;
    }

    /// <summary>The settings this trainer runs with.</summary>
    public TOptions TrainerOptions { get; }

    /// <summary>Whether the objective needs the training group column.</summary>
    private protected virtual bool RequiresTrainingGroups => false;

    /// <summary>Trains on <paramref name="input"/>, validating on <see cref="NetworkTrainerOptions.ValidationSet"/> when set.</summary>
    /// <param name="input">Training data with the label, feature (and, where needed, group and weight) columns.</param>
    /// <returns>The trained model.</returns>
    public ClassifierNetworkTransformer Fit(IDataView input) => Fit(input, TrainerOptions.ValidationSet);

    /// <summary>Trains on <paramref name="trainData"/>, evaluating <paramref name="validationData"/> after every epoch.</summary>
    /// <param name="trainData">Training data.</param>
    /// <param name="validationData">Validation data with the same columns, or null.</param>
    /// <returns>The trained model, with the weights chosen by <see cref="NetworkTrainerOptions.ModelSelection"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or a column is missing or of the
    /// wrong type (ML.NET's wording); raised before any training step.</exception>
    /// <exception cref="InvalidOperationException">The data is unusable (no rows, one class, a missing label,
    /// non-finite features), or training diverged; the message names the row, epoch or step.</exception>
    public ClassifierNetworkTransformer Fit(IDataView trainData, IDataView? validationData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        ValidateOptions();
        if (TrainerOptions.ModelSelection != ModelSelection.LastEpoch && validationData is null)
            throw new ArgumentException($"ModelSelection {TrainerOptions.ModelSelection} needs a validation set: set ValidationSet or call Fit(train, validation).", nameof(validationData));

        // An empty view is the cause to name first: its label key (MapValueToKey over no rows) has no values either,
        // and the column check would blame the key type.
        RequireRows(trainData, "training");
        if (validationData is not null) RequireRows(validationData, "validation");
        var layout = ColumnLayout.Check(trainData.Schema, TrainerOptions, RequiresTrainingGroups);
        ColumnLayout? validationLayout = null;
        if (validationData is not null)
        {
            validationLayout = CheckValidation(validationData, layout);
        }

        TorchRuntime.EnsureLoaded();
        if (TrainerOptions.NumberOfThreads is int threads) TorchRuntime.SetNumberOfThreads(threads);
        var device = TorchRuntime.ResolveDevice(TrainerOptions.Device, TrainerOptions.FallbackToCpu);

        // Training groups are read only when the objective uses them: FlatDebias and ERM never see them.
        var trainingLayout = RequiresTrainingGroups ? layout : layout with { Group = null };
        var o = TrainerOptions;
        long budget = o.MaxInMemoryFeatureBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        string cacheDirectory = string.IsNullOrEmpty(o.CacheDirectory) ? Path.GetTempPath() : o.CacheDirectory;
        using var training = DataViewTensorReader.Read(trainData, trainingLayout, o.FeatureStorage, o.FeatureCache, budget, cacheDirectory, "training");
        using var validation = validationData is null ? null
            : DataViewTensorReader.Read(validationData, validationLayout!, FeatureStorage.Float32, o.FeatureCache, budget, cacheDirectory, "validation");
        CheckData(training, validation);

        var warnings = SetupWarnings(layout);
        TorchRuntime.SetSeed(TrainerOptions.Seed);
        var network = CreateNetwork(layout);
        try
        {
            var outcome = Train(new TrainingRun(network, training, validation, device, Fingerprint(layout, training.Count), () => CreateNetwork(layout)));
            var history = outcome.History with { FeaturesOnDisk = training.OnDisk, Warnings = warnings };
            network.to(torch.CPU);
            network.eval();
            var chain = MlNetScoringChain.Build(new MLContext(TrainerOptions.Seed), network, layout.Features.Name, layout.Classes, trainData);
            return new ClassifierNetworkTransformer(network, chain, layout.Features.Name, layout.Classes.Names, history, outcome.Rows);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Gives the setup's warnings to <see cref="NetworkTrainerOptions.Warnings"/> (standard error when none is set).</summary>
    private List<string> SetupWarnings(ColumnLayout layout)
    {
        var o = TrainerOptions;
        bool imageNet = o.PretrainedWeights == PretrainedWeightsSource.ImageNetResNet18;
        var warnings = new List<string>();
        if (NetworkInputSize.OffDesignWarning(imageNet ? NetworkKind.ResNet18 : o.Network, layout.Shape, imageNet) is { } size)
            warnings.Add(size);
        foreach (var warning in warnings)
        {
            if (o.Warnings is { } sink) sink.Report(warning);
            else Console.Error.WriteLine("MLNet.FlatDebias warning: " + warning);
        }
        return warnings;
    }

    private ClassifierNetwork CreateNetwork(ColumnLayout layout)
    {
        var o = TrainerOptions;
        if (o.PretrainedWeights == PretrainedWeightsSource.ImageNetResNet18)
            return ImageNetResNet18.Create(layout.Classes.Count, o.PretrainedWeightsPath, inputShape: layout.Shape);
        var network = NetworkFactory.Create(o.Network, layout.Classes.Count, layout.Shape, o.NetworkWidth);
        try
        {
            if (string.IsNullOrEmpty(o.PretrainedWeightsPath)) return network;
            if (!File.Exists(o.PretrainedWeightsPath))
                throw new FileNotFoundException($"PretrainedWeightsPath '{o.PretrainedWeightsPath}' does not exist.", o.PretrainedWeightsPath);
            if (Path.GetExtension(o.PretrainedWeightsPath).Equals(".onnx", StringComparison.OrdinalIgnoreCase))
            {
                using var stream = File.OpenRead(o.PretrainedWeightsPath);
                try
                {
                    Onnx.OnnxImport.LoadWeights(network, stream);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"PretrainedWeightsPath '{o.PretrainedWeightsPath}': {e.Message}", e);
                }
            }
            else
            {
                PretrainedWeights.Load(network, o.PretrainedWeightsPath);
            }
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The output schema without training: the input plus <c>Score</c> (Vector&lt;Single, K&gt;) and
    /// <c>PredictedLabel</c> (a key column of K values with the label's key values).</summary>
    /// <param name="inputSchema">The schema of the data <see cref="Fit(IDataView)"/> would get.</param>
    /// <returns>The schema of the transformed data.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type (ML.NET's wording).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var label = SchemaGuard.RequireColumn(inputSchema, "label", TrainerOptions.LabelColumnName);
        if (!label.IsKey || label.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw SchemaGuard.Mismatch("label", label.Name, "Key (e.g. from MapValueToKey)", Describe(label));
        var features = SchemaGuard.RequireColumn(inputSchema, "feature", TrainerOptions.FeatureColumnName);
        if (features.Kind != SchemaShape.Column.VectorKind.Vector || features.ItemType != NumberDataViewType.Single)
            throw SchemaGuard.Mismatch("feature", features.Name, "known-size vector of Single", Describe(features));
        if (!string.IsNullOrEmpty(TrainerOptions.GroupColumnName) && (RequiresTrainingGroups || TrainerOptions.ModelSelection == ModelSelection.ValidationWorstGroupAccuracy))
            SchemaGuard.RequireColumn(inputSchema, "group", TrainerOptions.GroupColumnName);
        if (!string.IsNullOrEmpty(TrainerOptions.ExampleWeightColumnName))
        {
            var weight = SchemaGuard.RequireColumn(inputSchema, "example weight", TrainerOptions.ExampleWeightColumnName);
            if (weight.Kind != SchemaShape.Column.VectorKind.Scalar || (weight.ItemType != NumberDataViewType.Single && weight.ItemType != NumberDataViewType.Double))
                throw SchemaGuard.Mismatch("example weight", weight.Name, "Single or Double", Describe(weight));
        }

        // ML.NET's SchemaShape columns cannot be constructed outside ML.NET; its own estimators derive them:
        // PredictedLabel has the label's shape (a key with its KeyValues), Score a known-size Single vector.
        var shapes = new MLContext();
        var withOutputs = shapes.Transforms.CopyColumns("PredictedLabel", label.Name)
            .Append(shapes.Transforms.Concatenate("Score", features.Name));
        return withOutputs.GetOutputSchema(inputSchema);
    }

    /// <summary>Creates the objective for one <see cref="Fit(IDataView)"/> call (the first stage's, for a two-stage trainer).</summary>
    private protected abstract TrainingObjective CreateObjective();

    /// <summary>Trains the network of <paramref name="run"/>: one engine run with <see cref="CreateObjective"/>; the
    /// two-stage trainers run the engine once per stage.</summary>
    private protected virtual TrainingOutcome Train(TrainingRun run)
    {
        var objective = CreateObjective();
        using var ownedByObjective = objective as IDisposable; // an objective with a model of its own (LfF) frees it here
        return new TrainingEngine(TrainerOptions, objective, run.Device, run.Fingerprint, run.NetworkFactory).Run(run.Network, run.Training, run.Validation);
    }

    /// <summary>Checks the options before anything else runs; every message names the option and its range.</summary>
    private protected virtual void ValidateOptions()
    {
        var o = TrainerOptions;
        Require(o.NumberOfEpochs >= 1, nameof(o.NumberOfEpochs), o.NumberOfEpochs, "must be >= 1");
        Require(o.BatchSize >= 1, nameof(o.BatchSize), o.BatchSize, "must be >= 1");
        Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), o.LearningRate, "must be > 0 and finite");
        Require(o.Momentum >= 0 && o.Momentum < 1, nameof(o.Momentum), o.Momentum, "must be in [0, 1)");
        Require(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay), nameof(o.WeightDecay), o.WeightDecay, "must be >= 0 and finite");
        Require(o.EvaluationBatchSize >= 1, nameof(o.EvaluationBatchSize), o.EvaluationBatchSize, "must be >= 1");
        Require(o.CheckpointsToKeep >= 1, nameof(o.CheckpointsToKeep), o.CheckpointsToKeep, "must be >= 1");
        Require(o.NumberOfThreads is null or >= 1, nameof(o.NumberOfThreads), o.NumberOfThreads, "must be >= 1 when set");
        Require(o.NetworkWidth is null or >= 1, nameof(o.NetworkWidth), o.NetworkWidth, "must be >= 1 when set");
        Require(Enum.IsDefined(o.Network), nameof(o.Network), o.Network, $"is not a known network; expected one of {string.Join(", ", Enum.GetNames<NetworkKind>())}");
        Require(Enum.IsDefined(o.Optimizer), nameof(o.Optimizer), o.Optimizer, "is not a known optimiser");
        Require(Enum.IsDefined(o.Device), nameof(o.Device), o.Device, "is not a known device");
        Require(Enum.IsDefined(o.ModelSelection), nameof(o.ModelSelection), o.ModelSelection, "is not a known model selection");
        Require(Enum.IsDefined(o.FeatureStorage), nameof(o.FeatureStorage), o.FeatureStorage, "is not a known feature storage");
        Require(Enum.IsDefined(o.FeatureCache), nameof(o.FeatureCache), o.FeatureCache, "is not a known feature cache");
        Require(o.MaxInMemoryFeatureBytes is null or >= 0, nameof(o.MaxInMemoryFeatureBytes), o.MaxInMemoryFeatureBytes, "must be >= 0 when set");
        Require(Enum.IsDefined(o.PretrainedWeights), nameof(o.PretrainedWeights), o.PretrainedWeights, "is not a known weights source");
        if (o.PretrainedWeights == PretrainedWeightsSource.ImageNetResNet18 && o.Network != NetworkKind.ResNet18)
            throw new ArgumentException($"PretrainedWeights ImageNetResNet18 needs Network = ResNet18; got {o.Network}.", nameof(NetworkTrainerOptions.Network));
        if (o.ResumeFromCheckpoint && string.IsNullOrEmpty(o.CheckpointDirectory))
            throw new ArgumentException("ResumeFromCheckpoint needs CheckpointDirectory.", nameof(NetworkTrainerOptions.ResumeFromCheckpoint));
        if (o.ModelSelection == ModelSelection.ValidationWorstGroupAccuracy && string.IsNullOrEmpty(o.GroupColumnName))
            throw new ArgumentException("ModelSelection ValidationWorstGroupAccuracy needs GroupColumnName (the validation set's group column).", nameof(NetworkTrainerOptions.GroupColumnName));
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> when <paramref name="ok"/> is false.</summary>
    private protected static void Require(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}; got {Convert.ToString(value, CultureInfo.InvariantCulture)}.");
    }

    private ColumnLayout CheckValidation(IDataView validationData, ColumnLayout training)
    {
        var wantsGroups = TrainerOptions.ModelSelection == ModelSelection.ValidationWorstGroupAccuracy
            || (!string.IsNullOrEmpty(TrainerOptions.GroupColumnName) && validationData.Schema.GetColumnOrNull(TrainerOptions.GroupColumnName) is not null);
        var layout = ColumnLayout.Check(validationData.Schema, TrainerOptions, groupRequired: false);
        if (!wantsGroups) layout = layout with { Group = null };
        if (layout.Shape != training.Shape)
            throw SchemaGuard.Mismatch("feature", layout.Features.Name, $"the training image shape {training.Shape}", layout.Shape.ToString());
        if (layout.Classes.Count != training.Classes.Count)
            throw SchemaGuard.Mismatch("label", layout.Label.Name, $"Key with {training.Classes.Count} classes, as in the training data", SchemaGuard.Describe(layout.Label.Type));
        return layout;
    }

    /// <summary>Throws when <paramref name="data"/> has no rows (counted without reading any column).</summary>
    private void RequireRows(IDataView data, string role)
    {
        if (!DataViewRows.Any(data))
            throw new InvalidOperationException(
                $"The {role} data view has no rows: Fit needs rows of at least two classes in the label column '{TrainerOptions.LabelColumnName}'. " +
                "Check the filter or split that produced it.");
    }

    private void CheckData(TensorDataset training, TensorDataset? validation)
    {
        var present = training.Labels.Distinct().Count();
        if (present < 2)
            throw new InvalidOperationException($"The label column '{TrainerOptions.LabelColumnName}' has only one class in the training data ({training.Labels[0]}); a classifier needs at least two.");
        if (validation?.Groups is not null && training.Groups is not null)
        {
            // The training column's vocabulary: every key value of a key column (rows or not), the observed values otherwise.
            var known = new HashSet<string>(training.GroupNames!, StringComparer.Ordinal);
            var unseen = validation.Groups.Select(g => validation.GroupNames![g]).Distinct().Where(g => !known.Contains(g)).ToList();
            if (unseen.Count > 0)
                throw new InvalidOperationException($"The validation set has group(s) {string.Join(", ", unseen.Take(10).Select(g => $"'{g}'"))}{(unseen.Count > 10 ? $" and {unseen.Count - 10} more" : "")} in column '{TrainerOptions.GroupColumnName}' that the training set's group column does not know.");
        }
    }

    private string Fingerprint(ColumnLayout layout, int rows) => string.Join("|",
        GetType().Name, TrainerOptions.Network, TrainerOptions.NetworkWidth?.ToString(CultureInfo.InvariantCulture) ?? "default", layout.Shape, layout.Classes.Count,
        rows.ToString(CultureInfo.InvariantCulture), TrainerOptions.Seed.ToString(CultureInfo.InvariantCulture),
        TrainerOptions.BatchSize.ToString(CultureInfo.InvariantCulture), TrainerOptions.Optimizer, TrainerOptions.NumberOfEpochs.ToString(CultureInfo.InvariantCulture));

    private static string Describe(SchemaShape.Column column) => column.Kind switch
    {
        SchemaShape.Column.VectorKind.Scalar => column.IsKey ? $"Key<{column.ItemType.RawType.Name}>" : column.ItemType.RawType.Name,
        SchemaShape.Column.VectorKind.Vector => $"Vector<{column.ItemType.RawType.Name}>",
        _ => $"Vector<{column.ItemType.RawType.Name}> (variable size)",
    };
}
