using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace Microsoft.ML;

/// <summary>
/// The debiasing trainers on <c>mlContext.MulticlassClassification.Trainers</c>: <see cref="FlatDebias(MulticlassClassificationCatalog.MulticlassClassificationTrainers, FlatDebiasTrainer.Options)"/>,
/// <see cref="GroupDro(MulticlassClassificationCatalog.MulticlassClassificationTrainers, GroupDroTrainer.Options)"/>,
/// <see cref="Lff(MulticlassClassificationCatalog.MulticlassClassificationTrainers, LffTrainer.Options)"/> and
/// <see cref="Erm(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ErmTrainer.Options)"/>, the field's
/// two-stage methods <see cref="Jtt(MulticlassClassificationCatalog.MulticlassClassificationTrainers, JttTrainer.Options)"/> and
/// <see cref="Pgd(MulticlassClassificationCatalog.MulticlassClassificationTrainers, PgdTrainer.Options)"/>, each with
/// simple arguments or an options object, and
/// <see cref="Dfr(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ClassifierNetworkTransformer, DfrTrainer.Options)"/>,
/// which re-trains the last layer of a model one of them fitted, and
/// <see cref="Dpe(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ClassifierNetworkTransformer, DpeTrainer.Options)"/>,
/// which replaces it by an ensemble of prototype classifiers.
/// </summary>
public static class DebiasTrainersCatalog
{
    /// <summary>A FlatDebias trainer: a network trained under a per-sample Fisher-trace bound, without training group labels.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column (known-size Single vector with image dimensions, or a flat
    /// feature vector for the Mlp and Linear networks). Default <c>"Features"</c>.</param>
    /// <param name="network">The network family. Default ResNet-50.</param>
    /// <param name="numberOfEpochs">Passes over the data. Default 10.</param>
    /// <param name="batchSize">Rows per step. Default 32.</param>
    /// <param name="learningRate">Learning rate. Default 1e-3.</param>
    /// <param name="traceBoundQuantile">The bound epsilon as a quantile of the traces after the warm-up. Default 0.83.</param>
    /// <returns>The trainer.</returns>
    public static FlatDebiasTrainer FlatDebias(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", NetworkKind network = TrainerDefaults.Network,
        int numberOfEpochs = TrainerDefaults.NumberOfEpochs, int batchSize = TrainerDefaults.BatchSize,
        double learningRate = TrainerDefaults.LearningRate, double traceBoundQuantile = TrainerDefaults.TraceBoundQuantile)
        => catalog.FlatDebias(new FlatDebiasTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, Network = network,
            NumberOfEpochs = numberOfEpochs, BatchSize = batchSize, LearningRate = learningRate, TraceBoundQuantile = traceBoundQuantile,
        });

    /// <summary>A FlatDebias trainer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The trainer.</returns>
    public static FlatDebiasTrainer FlatDebias(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, FlatDebiasTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new FlatDebiasTrainer(options);
    }

    /// <summary>A GroupDRO trainer (uses the training group column).</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column. Default <c>"Features"</c>.</param>
    /// <param name="groupColumnName">The group column. Default <c>"Group"</c>.</param>
    /// <param name="network">The network family. Default ResNet-50.</param>
    /// <param name="numberOfEpochs">Passes over the data. Default 10.</param>
    /// <param name="batchSize">Rows per step. Default 32.</param>
    /// <param name="learningRate">Learning rate. Default 1e-3.</param>
    /// <param name="groupStepSize">Step size of the group weights. Default 0.01.</param>
    /// <returns>The trainer.</returns>
    public static GroupDroTrainer GroupDro(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", string groupColumnName = "Group",
        NetworkKind network = TrainerDefaults.Network, int numberOfEpochs = TrainerDefaults.NumberOfEpochs,
        int batchSize = TrainerDefaults.BatchSize, double learningRate = TrainerDefaults.LearningRate, double groupStepSize = TrainerDefaults.GroupStepSize)
        => catalog.GroupDro(new GroupDroTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, GroupColumnName = groupColumnName, Network = network,
            NumberOfEpochs = numberOfEpochs, BatchSize = batchSize, LearningRate = learningRate, GroupStepSize = groupStepSize,
        });

    /// <summary>A GroupDRO trainer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The trainer.</returns>
    public static GroupDroTrainer GroupDro(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, GroupDroTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new GroupDroTrainer(options);
    }

    /// <summary>An LfF trainer (Learning from Failure): a network trained with rows re-weighted by a biased network
    /// trained alongside it, without training group labels.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column. Default <c>"Features"</c>.</param>
    /// <param name="network">The network family (of both models). Default ResNet-50.</param>
    /// <param name="numberOfEpochs">Passes over the data. Default 10.</param>
    /// <param name="batchSize">Rows per step. Default 32.</param>
    /// <param name="learningRate">Learning rate (of both models). Default 1e-3.</param>
    /// <param name="q">The biased model's generalized cross-entropy exponent. Default 0.7. Range: (0, 1].</param>
    /// <returns>The trainer.</returns>
    public static LffTrainer Lff(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", NetworkKind network = TrainerDefaults.Network,
        int numberOfEpochs = TrainerDefaults.NumberOfEpochs, int batchSize = TrainerDefaults.BatchSize,
        double learningRate = TrainerDefaults.LearningRate, double q = TrainerDefaults.LffQ)
        => catalog.Lff(new LffTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, Network = network,
            NumberOfEpochs = numberOfEpochs, BatchSize = batchSize, LearningRate = learningRate, Q = q,
        });

    /// <summary>An LfF trainer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The trainer.</returns>
    public static LffTrainer Lff(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, LffTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new LffTrainer(options);
    }

    /// <summary>An ERM trainer: the baseline on the same engine.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column. Default <c>"Features"</c>.</param>
    /// <param name="network">The network family. Default ResNet-50.</param>
    /// <param name="numberOfEpochs">Passes over the data. Default 10.</param>
    /// <param name="batchSize">Rows per step. Default 32.</param>
    /// <param name="learningRate">Learning rate. Default 1e-3.</param>
    /// <returns>The trainer.</returns>
    public static ErmTrainer Erm(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", NetworkKind network = TrainerDefaults.Network,
        int numberOfEpochs = TrainerDefaults.NumberOfEpochs, int batchSize = TrainerDefaults.BatchSize, double learningRate = TrainerDefaults.LearningRate)
        => catalog.Erm(new ErmTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, Network = network,
            NumberOfEpochs = numberOfEpochs, BatchSize = batchSize, LearningRate = learningRate,
        });

    /// <summary>An ERM trainer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The trainer.</returns>
    public static ErmTrainer Erm(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ErmTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ErmTrainer(options);
    }

    /// <summary>A JTT trainer (Just Train Twice): ERM, then a second model with the first model's errors upweighted; no
    /// group labels.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column. Default <c>"Features"</c>.</param>
    /// <param name="network">The network family. Default ResNet-50.</param>
    /// <param name="numberOfEpochs">Epochs of the second stage. Default 10.</param>
    /// <param name="firstStageEpochs">Epochs of the first (ERM) stage, T. Default 2.</param>
    /// <param name="upweightFactor">lambda_up, the error set's weight. Default 100.</param>
    /// <returns>The trainer.</returns>
    public static JttTrainer Jtt(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", NetworkKind network = TrainerDefaults.Network,
        int numberOfEpochs = TrainerDefaults.NumberOfEpochs, int firstStageEpochs = TrainerDefaults.FirstStageEpochs, double upweightFactor = TrainerDefaults.JttUpweightFactor)
        => catalog.Jtt(new JttTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, Network = network,
            NumberOfEpochs = numberOfEpochs, FirstStageEpochs = firstStageEpochs, UpweightFactor = upweightFactor,
        });

    /// <summary>A JTT trainer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The trainer.</returns>
    public static JttTrainer Jtt(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, JttTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new JttTrainer(options);
    }

    /// <summary>A PGD trainer: a GCE-trained biased model, then rows resampled by their last-layer gradient norm; no group labels.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column. Default <c>"Features"</c>.</param>
    /// <param name="network">The network family. Default ResNet-50.</param>
    /// <param name="numberOfEpochs">Epochs of the second stage. Default 10.</param>
    /// <param name="firstStageEpochs">Epochs of the biased (GCE) stage. Default 2.</param>
    /// <returns>The trainer.</returns>
    public static PgdTrainer Pgd(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", NetworkKind network = TrainerDefaults.Network,
        int numberOfEpochs = TrainerDefaults.NumberOfEpochs, int firstStageEpochs = TrainerDefaults.FirstStageEpochs)
        => catalog.Pgd(new PgdTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, Network = network,
            NumberOfEpochs = numberOfEpochs, FirstStageEpochs = firstStageEpochs,
        });

    /// <summary>A PGD trainer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="options">The settings.</param>
    /// <returns>The trainer.</returns>
    public static PgdTrainer Pgd(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, PgdTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new PgdTrainer(options);
    }

    /// <summary>A DFR estimator (Deep Feature Reweighting): re-trains the last layer of <paramref name="fittedModel"/> on a
    /// held-out set with groups, the rest of its network frozen.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers (not changed).</param>
    /// <param name="labelColumnName">The held-out label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The held-out feature column, as the model was trained on. Default <c>"Features"</c>.</param>
    /// <param name="groupColumnName">The held-out group column. Default <c>"Group"</c>.</param>
    /// <param name="numberOfRetrains">Group-balanced fits averaged into the head. Default 20. Range: 1 and up.</param>
    /// <returns>The estimator; <c>Fit(heldOut)</c> returns the re-headed model.</returns>
    public static DfrTrainer Dfr(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ClassifierNetworkTransformer fittedModel,
        string labelColumnName = "Label", string featureColumnName = "Features", string groupColumnName = "Group",
        int numberOfRetrains = TrainerDefaults.DfrNumberOfRetrains)
        => catalog.Dfr(fittedModel, new DfrTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, GroupColumnName = groupColumnName,
            NumberOfRetrains = numberOfRetrains,
        });

    /// <summary>A DFR estimator with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers (not changed).</param>
    /// <param name="options">The settings.</param>
    /// <returns>The estimator; <c>Fit(heldOut)</c> returns the re-headed model.</returns>
    public static DfrTrainer Dfr(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ClassifierNetworkTransformer fittedModel,
        DfrTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new DfrTrainer(fittedModel, options);
    }

    /// <summary>An AFR estimator (Automatic Feature Reweighting): re-fits the last layer of <paramref name="fittedModel"/>
    /// on rows it did not train on, weighted by how little the model believes each row's label, choosing the weighting and
    /// the epoch on <paramref name="validationSet"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers (not changed), typically ERM on 80 % of
    /// the training rows.</param>
    /// <param name="validationSet">The rows that choose gamma, lambda and the epoch.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column, as the model was trained on. Default <c>"Features"</c>.</param>
    /// <param name="groupColumnName">The validation set's group column; null (default) chooses by worst class.</param>
    /// <returns>The estimator; <c>Fit(reweightingRows)</c> returns the re-headed model.</returns>
    public static AfrTrainer Afr(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ClassifierNetworkTransformer fittedModel,
        IDataView validationSet, string labelColumnName = "Label", string featureColumnName = "Features", string? groupColumnName = null)
        => catalog.Afr(fittedModel, new AfrTrainer.Options
        {
            ValidationSet = validationSet, LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, GroupColumnName = groupColumnName,
        });

    /// <summary>An AFR estimator with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers (not changed).</param>
    /// <param name="options">The settings (<see cref="LastLayerSearchOptions.ValidationSet"/> required).</param>
    /// <returns>The estimator; <c>Fit(reweightingRows)</c> returns the re-headed model.</returns>
    public static AfrTrainer Afr(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ClassifierNetworkTransformer fittedModel,
        AfrTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new AfrTrainer(fittedModel, options);
    }

    /// <summary>FlatDebias on the last layer (this library's method): re-fits the last layer of <paramref name="fittedModel"/>
    /// on rows it did not train on with every row's head Fisher trace bounded, by primal-dual steps, choosing the bound,
    /// the dual step and the epoch on <paramref name="validationSet"/>.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers (not changed).</param>
    /// <param name="validationSet">The rows that choose the bound, the dual step and the epoch.</param>
    /// <param name="labelColumnName">The label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The feature column, as the model was trained on. Default <c>"Features"</c>.</param>
    /// <param name="groupColumnName">The validation set's group column; null (default) chooses by worst class.</param>
    /// <returns>The estimator; <c>Fit(reweightingRows)</c> returns the re-headed model.</returns>
    public static FlatDebiasLastLayerTrainer FlatDebiasLastLayer(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        ClassifierNetworkTransformer fittedModel, IDataView validationSet, string labelColumnName = "Label", string featureColumnName = "Features",
        string? groupColumnName = null)
        => catalog.FlatDebiasLastLayer(fittedModel, new FlatDebiasLastLayerTrainer.Options
        {
            ValidationSet = validationSet, LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, GroupColumnName = groupColumnName,
        });

    /// <summary>FlatDebias on the last layer with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers (not changed).</param>
    /// <param name="options">The settings (<see cref="LastLayerSearchOptions.ValidationSet"/> required).</param>
    /// <returns>The estimator; <c>Fit(reweightingRows)</c> returns the re-headed model.</returns>
    public static FlatDebiasLastLayerTrainer FlatDebiasLastLayer(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        ClassifierNetworkTransformer fittedModel, FlatDebiasLastLayerTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new FlatDebiasLastLayerTrainer(fittedModel, options);
    }

    /// <summary>A DPE estimator (Diverse Prototypical Ensembles): replaces the last layer of <paramref name="fittedModel"/>
    /// by an ensemble of prototype classifiers trained on balanced subsets of a held-out set, the rest of its network
    /// frozen.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers, not a DPE model (not changed).</param>
    /// <param name="labelColumnName">The held-out label column (a key column). Default <c>"Label"</c>.</param>
    /// <param name="featureColumnName">The held-out feature column, as the model was trained on. Default <c>"Features"</c>.</param>
    /// <param name="groupColumnName">The held-out group column, or null for class-balanced subsets and worst-class
    /// selection. Default null.</param>
    /// <param name="numberOfMembers">Ensemble members. Default 15. Range: 1 and up.</param>
    /// <returns>The estimator; <c>Fit(heldOut)</c> returns the model with the prototype ensemble.</returns>
    public static DpeTrainer Dpe(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ClassifierNetworkTransformer fittedModel,
        string labelColumnName = "Label", string featureColumnName = "Features", string? groupColumnName = null,
        int numberOfMembers = TrainerDefaults.DpeNumberOfMembers)
        => catalog.Dpe(fittedModel, new DpeTrainer.Options
        {
            LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, GroupColumnName = groupColumnName,
            NumberOfMembers = numberOfMembers,
        });

    /// <summary>A DPE estimator with every setting.</summary>
    /// <param name="catalog">The multiclass trainers catalog.</param>
    /// <param name="fittedModel">A model fitted by one of this library's trainers, not a DPE model (not changed).</param>
    /// <param name="options">The settings.</param>
    /// <returns>The estimator; <c>Fit(heldOut)</c> returns the model with the prototype ensemble.</returns>
    public static DpeTrainer Dpe(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ClassifierNetworkTransformer fittedModel,
        DpeTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new DpeTrainer(fittedModel, options);
    }
}
