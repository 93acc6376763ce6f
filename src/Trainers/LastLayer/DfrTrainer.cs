using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>
/// Deep Feature Reweighting (Kirichenko, Izmailov &amp; Wilson, "Last layer re-training is sufficient for robustness to
/// spurious correlations", ICLR 2023): keeps a fitted model's network frozen and re-trains only its last linear layer,
/// as an L1-regularised logistic regression on group-balanced subsets of a held-out set with group labels. Only the
/// held-out set needs groups; the model may come from any of this library's trainers (ERM is the paper's).
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b> (the paper's Waterbirds recipe, <c>dfr_evaluate_spurious.py</c>): the
/// frozen network's penultimate features of every held-out row are extracted (evaluation mode, no gradient).
/// <i>Tuning</i>: the held-out rows are split by a seeded shuffle into a fit part (<see cref="Options.TuningFraction"/>)
/// and a score part; for each C in <see cref="Options.InverseRegularizationValues"/> a head is fitted on a group-balanced
/// subset of the fit part (every group cut to the smallest group's size) with features standardised by that subset's
/// mean and standard deviation, and scored by its worst-group accuracy on the score part; the best C is kept (ties to the
/// earlier value in the list). <i>Final head</i>: <see cref="Options.NumberOfRetrains"/> heads are fitted with that C on
/// group-balanced subsets of all held-out rows, with features standardised by the mean and standard deviation of all
/// held-out rows, and their weights and biases averaged. The averaged head is folded into a copy of the network's last
/// layer (<c>W' = W / sigma</c>, <c>b' = b - W' mu</c>), so the result is the frozen backbone plus one linear layer, saved
/// as one ONNX graph like every other trainer's model. (The reference fits the final standardisation on the training
/// set's features, which this estimator does not see; the held-out rows are the pool every final subset is drawn from.)</para>
/// <para><b>The logistic regression</b> is ML.NET's own <c>LbfgsMaximumEntropy</c> (multinomial, OWL-QN for the L1
/// term, one thread, L2 off, its defaults otherwise). C has scikit-learn's meaning: scikit-learn minimises
/// <c>||w||_1 + C sum_i loss_i</c>; ML.NET minimises <c>(sum_i loss_i) / N + (L1Regularization / N) ||w||_1</c> over N
/// rows (its L-BFGS base divides the summed loss by the row count and hands OWL-QN <c>L1Regularization / N</c>), so
/// <c>L1Regularization = 1 / C</c> for every N (on a two-class problem of 200 and of 2,000 rows, ML.NET with
/// <c>1 / C</c> gave scikit-learn 1.2.1's <c>saga</c> coefficients and intercept to four decimals for C = 1, 0.1 and 0.03;
/// the tests check that doubling every row and the L1 strength together leaves the fit unchanged). Two differences from the reference's <c>liblinear</c> remain: ML.NET
/// does not penalise the biases (liblinear penalises its intercept as a feature), and with more than two classes the fit
/// is multinomial rather than one-vs-rest; for two classes the multinomial weights <c>w_1 - w_0</c> are the binary
/// model's weights with the same L1 penalty.</para>
/// <para><b>Input columns</b> of the held-out data: label (key, the model's classes), features (known-size Single
/// vector of the size the model reads), group (key, string, integer or bool). <b>Output columns</b> of the result:
/// <c>Score</c>, <c>PredictedLabel</c>. The result's <see cref="ClassifierNetworkTransformer.History"/> is the
/// model's history with <see cref="TrainingHistory.Dfr"/> set. The fitted model is not changed.</para>
/// <para><b>Trainer characteristics</b>: no extra package (the logistic regression is in Microsoft.ML); ONNX export:
/// yes, as every model of this library.</para>
/// </remarks>
public sealed class DfrTrainer : IEstimator<ClassifierNetworkTransformer>
{
    private readonly ClassifierNetworkTransformer fittedModel;

    internal DfrTrainer(ClassifierNetworkTransformer fittedModel, Options options)
    {
        ArgumentNullException.ThrowIfNull(fittedModel);
        ArgumentNullException.ThrowIfNull(options);
        this.fittedModel = fittedModel;
        TrainerOptions = options;
    }

    /// <summary>The settings this trainer runs with.</summary>
    public Options TrainerOptions { get; }

    /// <summary>Options of <see cref="DfrTrainer"/>.</summary>
    public sealed class Options
    {
        /// <summary>The held-out label column: a key column with the model's classes. Default <c>"Label"</c>.</summary>
        public string LabelColumnName { get; set; } = "Label";

        /// <summary>The held-out feature column: a known-size Single vector of the size the model reads (the column the
        /// model was trained on); the result reads the same column. Default <c>"Features"</c>.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>The held-out group column (key, string, integer or bool); required. Default <c>"Group"</c>.</summary>
        public string GroupColumnName { get; set; } = "Group";

        /// <summary>The inverse L1 strengths C to choose from, in scikit-learn's meaning (smaller is sparser; ML.NET's
        /// <c>L1Regularization</c> is <c>1 / C</c>). Default the paper's Waterbirds grid
        /// <c>{1, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01}</c>. Range: at least one value, each &gt; 0 and finite. With one value
        /// there is nothing to choose and no tuning split is made.</summary>
        public double[] InverseRegularizationValues { get; set; } = TrainerDefaults.DfrInverseRegularizationValues();

        /// <summary>Heads fitted with the chosen C, each on its own group-balanced subset of all held-out rows, and
        /// averaged. Default 20. Range: 1 and up.</summary>
        public int NumberOfRetrains { get; set; } = TrainerDefaults.DfrNumberOfRetrains;

        /// <summary>Share of the held-out rows in the tuning fit part; the rest is the score part. Default 0.5 (the
        /// paper's halves). Range: (0, 1), and every group needs rows in both parts.</summary>
        public double TuningFraction { get; set; } = TrainerDefaults.DfrTuningFraction;

        /// <summary>Seed of the tuning split and of every group-balanced subset: the same seed on the same data gives
        /// the same head. Default 0. Range: any value. (The MLContext's seed does not reach DFR.)</summary>
        public int Seed { get; set; }

        /// <summary>Rows per forward pass when extracting the held-out features. Default 256. Range: 1 and up.</summary>
        public int EvaluationBatchSize { get; set; } = 256;
    }

    /// <summary>Re-trains the last layer of the fitted model on <paramref name="input"/>, a held-out set with groups.</summary>
    /// <remarks>One data view: <c>Dfr(model).Fit(heldOut)</c>. The training and validation sets were the fitted model's
    /// (<c>Erm(...).Fit(train, validation)</c>); there is no <c>Fit(train, validation)</c> here (the compiler says CS1501,
    /// no overload takes 2 arguments).</remarks>
    /// <param name="input">Held-out data (typically the validation set) with the label, feature and group columns.</param>
    /// <returns>A new model: a copy of the fitted model's network with the DFR head; the fitted model is unchanged and
    /// both are disposed separately.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or a column is missing or of the wrong
    /// type or size (ML.NET's wording, naming the column).</exception>
    /// <exception cref="ArgumentException">GroupColumnName is not set.</exception>
    /// <exception cref="InvalidOperationException">The held-out data is unusable: no rows, a missing label or group,
    /// non-finite features, a class of the model with no rows, fewer than two groups, or a group with no rows in a
    /// tuning part; the message names it.</exception>
    public ClassifierNetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ValidateOptions();
        var clock = Stopwatch.StartNew();
        var o = TrainerOptions;
        var heldOut = FrozenModelRows.Read(fittedModel, input, "DFR", "held-out", o.LabelColumnName, o.FeatureColumnName, o.GroupColumnName, o.EvaluationBatchSize);
        var layout = heldOut.Layout;
        var labels = heldOut.Labels;
        var groups = heldOut.Groups!;
        var groupNames = heldOut.GroupNames!;
        int classCount = heldOut.ClassCount;
        heldOut.RequireEveryClass("DFR", "held-out");
        var present = CheckGroups(groups, groupNames);
        var features = heldOut.Features;

        var mlContext = new MLContext(o.Seed);
        var tuning = new List<DfrTuningResult>();
        int tuningFitRows = 0, tuningBalancedRows = 0, tuningScoreRows = 0;
        double chosen = o.InverseRegularizationValues[0];
        if (o.InverseRegularizationValues.Length > 1)
        {
            var (fitPart, scorePart) = DfrSampling.TuningSplit(labels.Length, o.TuningFraction, o.Seed);
            RequireEveryGroup(fitPart, groups, present, groupNames, "tuning fit part");
            RequireEveryGroup(scorePart, groups, present, groupNames, "tuning score part");
            var rows = DfrSampling.TuningRows(groups, fitPart, o.Seed);
            var standardization = Standardization.Fit(features, rows);
            var fitX = rows.Select(r => standardization.Apply(features[r])).ToArray();
            var fitY = rows.Select(r => labels[r]).ToArray();
            var scoreX = scorePart.Select(r => standardization.Apply(features[r])).ToArray();
            var scoreY = scorePart.Select(r => labels[r]).ToArray();
            var scoreGroups = scorePart.Select(r => groups[r]).ToArray();
            foreach (var c in o.InverseRegularizationValues)
            {
                var head = DfrLogisticRegression.Fit(mlContext, fitX, fitY, classCount, c);
                var predicted = scoreX.Select(head.Predict).ToArray();
                var summary = GroupAccuracySummary.Compute(scoreY, predicted, scoreGroups, groupNames, classCount);
                tuning.Add(new DfrTuningResult(c, summary.WorstGroupAccuracy, summary.AverageAccuracy));
            }
            chosen = tuning.MaxBy(t => t.WorstGroupAccuracy)!.InverseRegularization; // MaxBy keeps the first of equals
            (tuningFitRows, tuningBalancedRows, tuningScoreRows) = (fitPart.Length, rows.Length, scorePart.Length);
        }

        var all = Enumerable.Range(0, labels.Length).ToArray();
        var final = Standardization.Fit(features, all);
        var heads = new List<LinearHead>(o.NumberOfRetrains);
        int rowsPerRetrain = 0;
        for (int r = 0; r < o.NumberOfRetrains; r++)
        {
            var rows = DfrSampling.RetrainRows(groups, o.Seed, r);
            rowsPerRetrain = rows.Length;
            heads.Add(DfrLogisticRegression.Fit(mlContext, rows.Select(i => final.Apply(features[i])).ToArray(), rows.Select(i => labels[i]).ToArray(), classCount, chosen));
        }
        var folded = LinearHead.Mean(heads).Fold(final);

        var network = FrozenModelRows.CopyWithHead(fittedModel.Network, folded.WeightsAsFloats(), folded.Biases.Select(b => (float)b).ToArray(), "DFR");
        try
        {
            var chain = MlNetScoringChain.Build(mlContext, network, layout.Features.Name, layout.Classes, input);
            var report = new DfrReport
            {
                InverseRegularization = chosen,
                L1Regularization = DfrLogisticRegression.L1Regularization(chosen),
                Tuning = tuning,
                TuningFitRows = tuningFitRows,
                TuningBalancedRows = tuningBalancedRows,
                TuningScoreRows = tuningScoreRows,
                HeldOutRows = labels.Length,
                Groups = present.Select(g => groupNames[g]).ToArray(),
                GroupRows = present.Select(g => groups.Count(x => x == g)).ToArray(),
                NumberOfRetrains = o.NumberOfRetrains,
                RowsPerRetrain = rowsPerRetrain,
                Seconds = clock.Elapsed.TotalSeconds,
            };
            var history = fittedModel.History with { Dfr = report };
            return new ClassifierNetworkTransformer(network, chain, layout.Features.Name, layout.Classes.Names, history, fittedModel.Rows);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The output schema without fitting: the input plus <c>Score</c> (Vector&lt;Single, K&gt;) and
    /// <c>PredictedLabel</c> (a key column with the label's key values).</summary>
    /// <param name="inputSchema">The schema of the held-out data <see cref="Fit"/> would get.</param>
    /// <returns>The schema of the transformed data.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A column is missing or of the wrong type (ML.NET's wording).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ValidateOptions();
        SchemaGuard.RequireColumn(inputSchema, GroupColumnReader.Role, TrainerOptions.GroupColumnName);
        return LastLayerSchema.Output(inputSchema, TrainerOptions.LabelColumnName, TrainerOptions.FeatureColumnName);
    }

    private void ValidateOptions()
    {
        var o = TrainerOptions;
        if (string.IsNullOrEmpty(o.GroupColumnName))
            throw new ArgumentException("DFR needs GroupColumnName: the held-out set's groups are balanced.", nameof(Options.GroupColumnName));
        if (o.InverseRegularizationValues is null || o.InverseRegularizationValues.Length == 0)
            throw new ArgumentOutOfRangeException(nameof(Options.InverseRegularizationValues), "InverseRegularizationValues must hold at least one value.");
        foreach (var c in o.InverseRegularizationValues)
            Require(c > 0 && double.IsFinite(c) && float.IsFinite(DfrLogisticRegression.L1Regularization(c)), nameof(o.InverseRegularizationValues), c,
                "must hold values > 0 and finite (with 1 / C finite as a float)");
        Require(o.NumberOfRetrains >= 1, nameof(o.NumberOfRetrains), o.NumberOfRetrains, "must be >= 1");
        Require(o.TuningFraction > 0 && o.TuningFraction < 1, nameof(o.TuningFraction), o.TuningFraction, "must be in (0, 1)");
        Require(o.EvaluationBatchSize >= 1, nameof(o.EvaluationBatchSize), o.EvaluationBatchSize, "must be >= 1");
    }

    private static void Require(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}; got {Convert.ToString(value, CultureInfo.InvariantCulture)}.");
    }

    /// <summary>The groups with held-out rows (a key column's vocabulary may name groups with none; those take no part);
    /// at least two.</summary>
    private int[] CheckGroups(int[] groups, IReadOnlyList<string> groupNames)
    {
        var present = groups.Distinct().Order().ToArray();
        if (present.Length < 2)
            throw new InvalidOperationException($"The group column '{TrainerOptions.GroupColumnName}' has only one group ('{groupNames[present[0]]}') in the held-out data; DFR balances groups and needs at least two.");
        return present;
    }

    private void RequireEveryGroup(int[] part, int[] groups, int[] present, IReadOnlyList<string> groupNames, string role)
    {
        var seen = new HashSet<int>(part.Select(r => groups[r]));
        var missing = present.Where(g => !seen.Contains(g)).ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException(
                $"Group {string.Join(", ", missing.Select(g => $"'{groupNames[g]}'"))} of column '{TrainerOptions.GroupColumnName}' has no rows in the {role} " +
                $"({part.Length} of the {groups.Length} held-out rows with TuningFraction {TrainerOptions.TuningFraction.ToString(CultureInfo.InvariantCulture)}); " +
                "every group needs rows in both tuning parts: give more held-out rows of that group, or change TuningFraction or Seed, or give one InverseRegularizationValues value (no tuning).");
    }
}
