using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Trainers.Onnx;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>One grid of candidate heads: the objective that trains them all at once and each one's values as text.</summary>
internal sealed record SearchGrid(IHeadObjective Objective, IReadOnlyList<string> Values);

/// <summary>
/// The shared procedure of the full-batch last-layer methods (<see cref="AfrTrainer"/>,
/// <see cref="FlatDebiasLastLayerTrainer"/>): the fitted model's network stays frozen; its features of the re-weighting
/// rows (the <see cref="Fit"/> input: rows the model did not train on) and of <see cref="LastLayerSearchOptions.ValidationSet"/>
/// are read once; every grid point's head starts from the fitted model's head and takes
/// <see cref="LastLayerSearchOptions.NumberOfEpochs"/> full-batch SGD steps on the method's objective (all grid points at
/// once, as one batched product); each grid point keeps its best validation epoch and the best grid point is the model's
/// new last layer. A method is its options and its objective; the loop is this class's.
/// </summary>
/// <typeparam name="TOptions">The method's options.</typeparam>
public abstract class LastLayerSearchTrainer<TOptions> : IEstimator<ClassifierNetworkTransformer> where TOptions : LastLayerSearchOptions
{
    private readonly ClassifierNetworkTransformer _fittedModel;
    private readonly string _method;

    private protected LastLayerSearchTrainer(ClassifierNetworkTransformer fittedModel, TOptions options, string method)
    {
        ArgumentNullException.ThrowIfNull(fittedModel);
        ArgumentNullException.ThrowIfNull(options);
        _fittedModel = fittedModel;
        _method = method;
        TrainerOptions = options;
    }

    /// <summary>The settings this trainer runs with.</summary>
    public TOptions TrainerOptions { get; }

    /// <summary>Re-fits the last layer of the fitted model on <paramref name="input"/>, rows the model did not train on.</summary>
    /// <param name="input">The re-weighting rows: the label and feature columns (no group column is read).</param>
    /// <returns>A new model: a copy of the fitted model's network with the re-fitted head; the fitted model is unchanged
    /// and both are disposed separately. Its <see cref="TrainingHistory.LastLayerSearch"/> says what was chosen.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or a column is missing or of the wrong
    /// type or size (ML.NET's wording, naming the column).</exception>
    /// <exception cref="ArgumentException">ValidationSet is not set, or the fitted model has no linear last layer.</exception>
    /// <exception cref="InvalidOperationException">The rows are unusable: none, a missing label or group, non-finite
    /// features, a class of the model with no re-weighting rows; the message names it.</exception>
    public ClassifierNetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ValidateOptions();
        var clock = Stopwatch.StartNew();
        var o = TrainerOptions;
        var rows = FrozenModelRows.Read(_fittedModel, input, _method, "re-weighting", o.LabelColumnName, o.FeatureColumnName, null, o.EvaluationBatchSize);
        rows.RequireEveryClass(_method, "re-weighting");
        var validationRows = FrozenModelRows.Read(_fittedModel, o.ValidationSet!, _method, "validation", o.LabelColumnName, o.FeatureColumnName, o.GroupColumnName, o.EvaluationBatchSize);

        FullBatchHeadSearch.Outcome outcome;
        IReadOnlyList<string> values;
        bool byGroups;
        using (var scope = NewDisposeScope())
        {
            var head = _fittedModel.Network.Head;
            if (head.bias is null) throw new NotSupportedException($"{_method} needs a last linear layer with a bias.");
            var w0 = head.weight.detach().cpu().to(ScalarType.Float32);
            var b0 = head.bias.detach().cpu().to(ScalarType.Float32);
            var features = rows.FeatureTensor();
            using var validation = new HeadValidation(validationRows);
            var grid = CreateGrid(rows, features, w0, b0);
            try
            {
                outcome = FullBatchHeadSearch.Run(features, w0, b0, grid.Values.Count, grid.Objective, validation, o.NumberOfEpochs, o.LearningRate, o.MaxGradientNorm, o.SelectEpoch);
            }
            finally
            {
                (grid.Objective as IDisposable)?.Dispose();
            }
            values = grid.Values;
            byGroups = validation.ByGroups;
        }

        var network = FrozenModelRows.CopyWithHead(_fittedModel.Network, outcome.Weights, outcome.Biases, _method);
        try
        {
            var mlContext = new MLContext(0);
            var layout = rows.Layout;
            var chain = MlNetScoringChain.Build(mlContext, network, layout.Features.Name, layout.Classes, input);
            var report = new LastLayerSearchReport
            {
                Method = _method,
                Candidates = outcome.Candidates.Select((c, g) => new LastLayerCandidate(values[g], c.BestEpoch, c.BestScore)).ToArray(),
                Chosen = outcome.Chosen,
                ScoredByGroups = byGroups,
                TrainingRows = rows.Count,
                ValidationRows = validationRows.Count,
                Epochs = o.NumberOfEpochs,
                Seconds = clock.Elapsed.TotalSeconds,
            };
            var history = _fittedModel.History with { LastLayerSearch = report };
            return new ClassifierNetworkTransformer(network, chain, layout.Features.Name, layout.Classes.Names, history, _fittedModel.Rows);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The output schema without fitting: the input plus <c>Score</c> (Vector&lt;Single, K&gt;) and
    /// <c>PredictedLabel</c> (a key column with the label's key values).</summary>
    /// <param name="inputSchema">The schema of the rows <see cref="Fit"/> would get.</param>
    /// <returns>The schema of the transformed data.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type (ML.NET's wording).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ValidateOptions();
        return LastLayerSchema.Output(inputSchema, TrainerOptions.LabelColumnName, TrainerOptions.FeatureColumnName);
    }

    /// <summary>The method's grid over <paramref name="rows"/> (features <c>[N, D]</c>, the fitted head <c>w0</c>, <c>b0</c>).</summary>
    private protected abstract SearchGrid CreateGrid(FrozenModelRows rows, Tensor features, Tensor w0, Tensor b0);

    /// <summary>Checks the method's own options (throws <see cref="ArgumentOutOfRangeException"/> naming the option).</summary>
    private protected abstract void ValidateMethodOptions();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the option unless <paramref name="ok"/>.</summary>
    private protected static void Require(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}; got {Text(value)}.");
    }

    /// <summary>Throws unless <paramref name="values"/> holds at least one value and each satisfies <paramref name="valid"/>.</summary>
    private protected static void RequireGrid(double[]? values, string name, Func<double, bool> valid, string rule)
    {
        if (values is null || values.Length == 0)
            throw new ArgumentOutOfRangeException(name, $"{name} must hold at least one value.");
        foreach (var v in values) Require(valid(v), name, v, rule);
    }

    private void ValidateOptions()
    {
        var o = TrainerOptions;
        if (o.ValidationSet is null)
            throw new ArgumentException($"{_method} needs ValidationSet: its rows choose each grid point's epoch and the grid point (worst group with GroupColumnName, worst class without).", nameof(LastLayerSearchOptions.ValidationSet));
        Require(o.NumberOfEpochs >= 1, nameof(o.NumberOfEpochs), o.NumberOfEpochs, "must be >= 1");
        Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), o.LearningRate, "must be > 0 and finite");
        Require(o.MaxGradientNorm > 0 && !double.IsNaN(o.MaxGradientNorm), nameof(o.MaxGradientNorm), o.MaxGradientNorm, "must be > 0 (PositiveInfinity for no clip)");
        Require(o.EvaluationBatchSize >= 1, nameof(o.EvaluationBatchSize), o.EvaluationBatchSize, "must be >= 1");
        ValidateMethodOptions();
    }

    private static string Text(object? value) => value switch
    {
        double[] values => string.Join(", ", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null",
    };
}
