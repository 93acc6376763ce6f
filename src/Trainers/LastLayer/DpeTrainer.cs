using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Common;
using MLNet.FlatDebias.Metrics;
using MLNet.FlatDebias.Runtime;
using MLNet.FlatDebias.Trainers.Engine;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>How <see cref="DpeTrainer"/> starts each member's prototypes.</summary>
public enum PrototypeInitialization
{
    /// <summary>The paper's: every prototype drawn from <c>N(0, 0.01^2)</c> per value.</summary>
    Random,

    /// <summary>Each class's mean normalised feature over the member's subset.</summary>
    ClassMeans,
}

/// <summary>
/// Diverse Prototypical Ensembles (To et al., "Diverse Prototypical Ensembles Improve Robustness to Subpopulation
/// Shift", ICML 2025): keeps a fitted model's network frozen and replaces its last linear layer by an ensemble of
/// prototype classifiers, each trained on its own balanced subset of a held-out set and pushed away from the earlier
/// members' prototypes. Groups are optional: without them subsets are class-balanced and members are chosen on their
/// worst class.
/// </summary>
/// <remarks>
/// <para><b>Training algorithm details</b> (as the released code runs it): the frozen network's penultimate features of
/// every held-out row are extracted (evaluation mode, no gradient), and each row is centred over its own values and
/// scaled to unit length, <c>x_hat</c>. Member after member, a fresh subset of the held-out rows is drawn without
/// replacement: every group cut to the smallest group's size (without a group column, every class to the smallest
/// class's). A member has one prototype <c>p_k</c> per class and a distance scale <c>s</c> (initially 1); its logits are
/// <c>-|s| d(x_hat, p_k / ||p_k||)</c> with <c>d = sqrt(max(2 - 2 cos, 1e-12))</c>, the distance of two unit vectors.
/// The batch loss is IsoMax+'s cross-entropy of <c>softmax(E * logits)</c>
/// (<see cref="Options.EntropicScale"/> E) plus <see cref="Options.PrototypeWeightDecay"/> times the mean squared
/// prototype norm plus <see cref="Options.DiversityStrength"/> times the inter-prototype similarity
/// <c>| mean_k (1 / (M + 1)) sum_j &lt;p_k, p_k^(j)&gt; / (D - 1) |</c> over the M earlier members' raw same-class
/// prototypes (none for the first member). Each member is trained by SGD with momentum at a constant learning rate on
/// shuffled batches (the last, partial batch dropped) for <see cref="Options.NumberOfEpochs"/> epochs, and keeps the
/// epoch with the best worst-group accuracy on all held-out rows (later epochs win ties); without a group column, the
/// best worst-class accuracy (this port's group-free form). The prediction is the mean of the members'
/// <c>softmax(-|s_m| d_m)</c> (without E), and its arg-max.</para>
/// <para><b>Deviation from the released code</b>: when a member's subset has fewer rows than
/// <see cref="Options.BatchSize"/>, it is used whole as one batch (dropping the partial batch would leave none).</para>
/// <para><b>The result</b> is a copy of the fitted network with a <see cref="ClassifierNetwork.PrototypeHead"/>
/// (its linear <see cref="ClassifierNetwork.Head"/> kept but unused), saved as one ONNX graph like every other model.</para>
/// <para><b>Input columns</b> of the held-out data: label (key, the model's classes), features (known-size Single
/// vector of the size the model reads), optional group (key, string, integer or bool). <b>Output columns</b> of the
/// result: <c>Score</c> (the ensemble's probabilities), <c>PredictedLabel</c>. The result's
/// <see cref="ClassifierNetworkTransformer.History"/> is the model's history with <see cref="TrainingHistory.Dpe"/>
/// set. The fitted model is not changed. A DPE model cannot be given to DPE or DFR again (its last layer is not linear).</para>
/// <para><b>Trainer characteristics</b>: no extra package; ONNX export: yes, as every model of this library.</para>
/// </remarks>
public sealed class DpeTrainer : IEstimator<ClassifierNetworkTransformer>
{
    private const string Method = "DPE";

    /// <summary>Standard deviation of the paper's random prototypes.</summary>
    private const double RandomPrototypeScale = 0.01;

    private readonly ClassifierNetworkTransformer fittedModel;

    internal DpeTrainer(ClassifierNetworkTransformer fittedModel, Options options)
    {
        ArgumentNullException.ThrowIfNull(fittedModel);
        ArgumentNullException.ThrowIfNull(options);
        this.fittedModel = fittedModel;
        TrainerOptions = options;
    }

    /// <summary>The settings this trainer runs with.</summary>
    public Options TrainerOptions { get; }

    /// <summary>Options of <see cref="DpeTrainer"/>.</summary>
    public sealed class Options
    {
        /// <summary>The held-out label column: a key column with the model's classes. Default <c>"Label"</c>.</summary>
        public string LabelColumnName { get; set; } = "Label";

        /// <summary>The held-out feature column: a known-size Single vector of the size the model reads (the column the
        /// model was trained on); the result reads the same column. Default <c>"Features"</c>.</summary>
        public string FeatureColumnName { get; set; } = "Features";

        /// <summary>The held-out group column (key, string, integer or bool), or null: then subsets are class-balanced and
        /// members are chosen on worst-class accuracy. Default null.</summary>
        public string? GroupColumnName { get; set; }

        /// <summary>Ensemble members. Default 15. Range: 1 and up.</summary>
        public int NumberOfMembers { get; set; } = TrainerDefaults.DpeNumberOfMembers;

        /// <summary>Passes over each member's subset. Default 20. Range: 1 and up.</summary>
        public int NumberOfEpochs { get; set; } = TrainerDefaults.DpeNumberOfEpochs;

        /// <summary>Rows per step; a subset smaller than this is one batch. Default 256. Range: 1 and up.</summary>
        public int BatchSize { get; set; } = TrainerDefaults.DpeBatchSize;

        /// <summary>SGD's constant learning rate. Default 1e-3. Range: 0 and up, finite (0 keeps the initial prototypes
        /// and scales).</summary>
        public double LearningRate { get; set; } = TrainerDefaults.DpeLearningRate;

        /// <summary>SGD's momentum. Default 0.9. Range: [0, 1).</summary>
        public double Momentum { get; set; } = TrainerDefaults.DpeMomentum;

        /// <summary>IsoMax+'s entropic scale E: the training loss is the cross-entropy of <c>softmax(E * logits)</c>
        /// (prediction does not use it). Default 30. Range: &gt; 0, finite.</summary>
        public double EntropicScale { get; set; } = TrainerDefaults.DpeEntropicScale;

        /// <summary>Weight of the mean squared prototype norm in the loss (the released code's <c>wd_weight</c>).
        /// Default 10. Range: 0 and up, finite.</summary>
        public double PrototypeWeightDecay { get; set; } = TrainerDefaults.DpePrototypeWeightDecay;

        /// <summary>Weight of the inter-prototype similarity to the earlier members (the released code's
        /// <c>cov_reg</c>). Default 5e5 (the released scripts' value). Range: 0 and up, finite (0 trains the members
        /// independently).</summary>
        public double DiversityStrength { get; set; } = TrainerDefaults.DpeDiversityStrength;

        /// <summary>How each member's prototypes start. Default <see cref="LastLayer.PrototypeInitialization.Random"/>
        /// (the paper's). Range: a defined value.</summary>
        public PrototypeInitialization PrototypeInitialization { get; set; } = PrototypeInitialization.Random;

        /// <summary>Seed of every subset, shuffle and random prototype: the same seed on the same data gives the same
        /// model. Default 0. Range: any value. (The MLContext's seed does not reach DPE.)</summary>
        public int Seed { get; set; }

        /// <summary>Rows per forward pass when extracting the held-out features. Default 256. Range: 1 and up.</summary>
        public int EvaluationBatchSize { get; set; } = 256;
    }

    /// <summary>Trains the prototype ensemble over the fitted model's frozen features of <paramref name="input"/>, a
    /// held-out set (typically the validation set).</summary>
    /// <param name="input">Held-out data with the label and feature columns (and the group column when named).</param>
    /// <returns>A new model: a copy of the fitted model's network with the prototype ensemble as its last layer; the
    /// fitted model is unchanged and both are disposed separately.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (the message names it), or a column is
    /// missing or of the wrong type or size (ML.NET's wording, naming the column).</exception>
    /// <exception cref="ArgumentException">The fitted model is itself a DPE model (parameter <c>fittedModel</c>).</exception>
    /// <exception cref="InvalidOperationException">The held-out data is unusable: no rows, a missing label or group,
    /// non-finite features, a class of the model with no rows, or fewer than two features; the message names it.</exception>
    public ClassifierNetworkTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ValidateOptions();
        var clock = Stopwatch.StartNew();
        var o = TrainerOptions;
        string? groupColumn = string.IsNullOrEmpty(o.GroupColumnName) ? null : o.GroupColumnName;
        var heldOut = FrozenModelRows.Read(fittedModel, input, Method, "held-out", o.LabelColumnName, o.FeatureColumnName, groupColumn, o.EvaluationBatchSize);
        heldOut.RequireEveryClass(Method, "held-out");
        int d = heldOut.Features[0].Length;
        if (d < 2)
            throw new InvalidOperationException($"The model's features have {d} value per row; DPE centres each row over its own values and needs at least 2.");

        var fit = Train(heldOut);

        var network = FrozenModelRows.Copy(fittedModel.Network);
        try
        {
            var head = new PrototypeEnsembleHead(o.NumberOfMembers, heldOut.ClassCount, d);
            network.AttachPrototypeHead(head);
            using (var set = NewDisposeScope())
                head.Set(tensor(fit.Directions, [(long)o.NumberOfMembers * heldOut.ClassCount, d]), tensor(fit.Scales));
            head.eval();

            int[] ensemblePredictions;
            using (var scope = NewDisposeScope())
            using (no_grad())
                ensemblePredictions = head.call(heldOut.FeatureTensor()).argmax(1).to(ScalarType.Int32).data<int>().ToArray();
            var ensemble = Score(heldOut, ensemblePredictions);

            var layout = heldOut.Layout;
            var chain = MlNetScoringChain.Build(new MLContext(o.Seed), network, layout.Features.Name, layout.Classes, input);
            var report = new DpeReport
            {
                NumberOfMembers = o.NumberOfMembers,
                Balancing = heldOut.Groups is null ? DpeBalancing.Classes : DpeBalancing.Groups,
                HeldOutRows = heldOut.Count,
                RowsPerMember = fit.RowsPerMember,
                Members = fit.Members,
                EnsembleWorstAccuracy = ensemble.Worst,
                EnsembleAccuracy = ensemble.Accuracy,
                Seconds = clock.Elapsed.TotalSeconds,
            };
            var history = fittedModel.History with { Dpe = report };
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
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range, or a column is missing or of the wrong
    /// type (ML.NET's wording).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ValidateOptions();
        if (!string.IsNullOrEmpty(TrainerOptions.GroupColumnName))
            SchemaGuard.RequireColumn(inputSchema, GroupColumnReader.Role, TrainerOptions.GroupColumnName);
        return LastLayerSchema.Output(inputSchema, TrainerOptions.LabelColumnName, TrainerOptions.FeatureColumnName);
    }

    /// <summary>The inter-prototype similarity of one member's raw prototypes <paramref name="prototypes"/> <c>[K, D]</c>
    /// to the earlier members' raw prototypes <paramref name="earlier"/> <c>[M, K, D]</c> (M at least 1), same class
    /// only: <c>| (1/K) sum_k (1/(M+1)) sum_j &lt;p_k, p_k^(j)&gt; / (D - 1) |</c>, a scalar.</summary>
    internal static Tensor Diversity(Tensor prototypes, Tensor earlier)
    {
        long members = earlier.shape[0], d = prototypes.shape[1];
        var dots = (earlier * prototypes.unsqueeze(0)).sum(new long[] { 2 }); // [M, K]
        using Scalar membersPlusOne = (members + 1).ToScalar(), dMinusOne = (d - 1).ToScalar();
        return dots.sum(new long[] { 0 }).div(membersPlusOne).mean().div(dMinusOne).abs();
    }

    /// <summary>The rows of member <paramref name="member"/>'s subset (ascending): every group (or, with
    /// <paramref name="groups"/> null, every class) of the held-out rows cut to the smallest one's size.</summary>
    internal static int[] MemberRows(int[] labels, int[]? groups, int seed, int member)
        => DfrSampling.Balanced(Enumerable.Range(0, labels.Length).ToArray(), groups ?? labels, new Random(DfrSampling.Derive(seed, Stream(member, 0))));

    // Three derived generator streams per member: its subset, its batch shuffles, its random prototypes.
    private static int Stream(int member, int use) => checked(3 * member + use);

    private sealed record Ensemble(float[] Directions, float[] Scales, int RowsPerMember, IReadOnlyList<DpeMemberResult> Members);

    private Ensemble Train(FrozenModelRows heldOut)
    {
        var o = TrainerOptions;
        int k = heldOut.ClassCount;
        int d = heldOut.Features[0].Length;
        var labels = heldOut.Labels;
        var directions = new float[(long)o.NumberOfMembers * k * d];
        var scales = new float[o.NumberOfMembers];
        var results = new List<DpeMemberResult>(o.NumberOfMembers);
        var earlier = new List<float[]>();
        int rowsPerMember = 0;

        using var scope = NewDisposeScope();
        var xHat = PrototypeEnsembleHead.NormalizeRows(heldOut.FeatureTensor());
        var y = tensor(labels.Select(l => (long)l).ToArray());
        for (int m = 0; m < o.NumberOfMembers; m++)
        {
            using var memberScope = NewDisposeScope();
            var rows = MemberRows(labels, heldOut.Groups, o.Seed, m);
            rowsPerMember = rows.Length;
            var (prototypes, scale, epoch, worst) = TrainMember(heldOut, xHat, y, rows, earlier, m);
            earlier.Add(prototypes);
            using (var unit = PrototypeEnsembleHead.UnitRows(tensor(prototypes, [k, d])))
                unit.data<float>().ToArray().CopyTo(directions, (long)m * k * d);
            scales[m] = Math.Abs(scale);
            results.Add(new DpeMemberResult(m, epoch, worst));
        }
        return new Ensemble(directions, scales, rowsPerMember, results);
    }

    /// <summary>One member: returns its raw prototypes <c>[K * D]</c> and scale at the chosen epoch, the epoch and its
    /// held-out worst-group (or worst-class) accuracy.</summary>
    private (float[] Prototypes, float Scale, int Epoch, double Worst) TrainMember(FrozenModelRows heldOut, Tensor xHat, Tensor y, int[] rows,
        List<float[]> earlier, int member)
    {
        var o = TrainerOptions;
        int k = heldOut.ClassCount;
        long d = xHat.shape[1];
        var subsetIndex = tensor(rows.Select(r => (long)r).ToArray());
        var subsetX = xHat.index_select(0, subsetIndex);
        var subsetY = y.index_select(0, subsetIndex);

        Tensor initial;
        if (o.PrototypeInitialization == PrototypeInitialization.Random)
        {
            using var generator = new Generator((ulong)DfrSampling.Derive(o.Seed, Stream(member, 2)));
            initial = randn([k, d], generator: generator) * RandomPrototypeScale;
        }
        else
        {
            initial = zeros([k, d]);
            for (int c = 0; c < k; c++)
            {
                var ofClass = subsetY.eq(c).nonzero().flatten();
                if (ofClass.numel() > 0) initial[c].copy_(subsetX.index_select(0, ofClass).mean([0]));
            }
        }
        var p = nn.Parameter(initial.detach().clone());
        var s = nn.Parameter(ones(1));
        Tensor? previous = earlier.Count == 0 || o.DiversityStrength == 0
            ? null
            : tensor(earlier.SelectMany(e => e).ToArray(), [earlier.Count, k, d]);
        using var optimizer = new ScalarSafeOptimizers.SGD([p, s], o.LearningRate, o.Momentum, weightDecay: 0);

        var shuffle = new Random(DfrSampling.Derive(o.Seed, Stream(member, 1)));
        int batch = Math.Min(o.BatchSize, rows.Length); // a subset smaller than a batch is one batch
        int steps = rows.Length / batch;
        var order = Enumerable.Range(0, rows.Length).ToArray();

        float[] bestPrototypes = p.detach().data<float>().ToArray();
        float bestScale = s.detach().data<float>()[0];
        int bestEpoch = -1;
        double bestWorst = double.NegativeInfinity;
        for (int epoch = 0; epoch < o.NumberOfEpochs; epoch++)
        {
            Shuffle(order, shuffle);
            for (int step = 0; step < steps; step++)
            {
                using var stepScope = NewDisposeScope();
                var index = tensor(order.AsSpan(step * batch, batch).ToArray().Select(i => (long)i).ToArray());
                var loss = Loss(subsetX.index_select(0, index), subsetY.index_select(0, index), p, s, previous);
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }

            int[] predicted;
            using (var evalScope = NewDisposeScope())
            using (no_grad())
                predicted = MemberLogits(xHat, p, s).argmax(1).to(ScalarType.Int32).data<int>().ToArray();
            double worst = Score(heldOut, predicted).Worst;
            if (worst >= bestWorst) // later epochs win ties, as the released code's >=
            {
                bestWorst = worst;
                bestEpoch = epoch;
                bestPrototypes = p.detach().data<float>().ToArray();
                bestScale = s.detach().data<float>()[0];
            }
        }
        if (bestPrototypes.Any(v => !float.IsFinite(v)) || !float.IsFinite(bestScale))
            throw new InvalidOperationException(
                $"DPE member {member + 1} diverged (non-finite prototypes); lower LearningRate ({o.LearningRate.ToString(CultureInfo.InvariantCulture)}) or DiversityStrength ({o.DiversityStrength.ToString(CultureInfo.InvariantCulture)}).");
        return (bestPrototypes, bestScale, bestEpoch, bestWorst);
    }

    /// <summary>The batch loss: IsoMax+'s cross-entropy plus the prototype norm penalty plus the diversity term.</summary>
    private Tensor Loss(Tensor x, Tensor y, Tensor p, Tensor s, Tensor? previous)
    {
        var o = TrainerOptions;
        // Held scalars, not implicit ones (`tensor * double`, `pow(2)`, `+`'s alpha): see HeldScalars.
        using Scalar entropicScale = o.EntropicScale.ToScalar(), weightDecay = o.PrototypeWeightDecay.ToScalar();
        using Scalar diversityStrength = o.DiversityStrength.ToScalar();
        var loss = nn.functional.cross_entropy(MemberLogits(x, p, s).mul(entropicScale), y)
            .add(p.pow(HeldScalars.Two).sum(1).mean().mul(weightDecay), HeldScalars.One);
        if (previous is not null) loss = loss.add(Diversity(p, previous).mul(diversityStrength), HeldScalars.One);
        return loss;
    }

    /// <summary>A member's logits <c>-|s| d(x_hat, p / ||p||)</c> for unit rows <paramref name="xHat"/>.</summary>
    private static Tensor MemberLogits(Tensor xHat, Tensor p, Tensor s)
        => -s.abs() * PrototypeEnsembleHead.Distances(xHat, PrototypeEnsembleHead.UnitRows(p));

    /// <summary>Held-out worst-group accuracy (worst-class without groups) and accuracy of <paramref name="predicted"/>.</summary>
    private static (double Worst, double Accuracy) Score(FrozenModelRows heldOut, int[] predicted)
    {
        if (heldOut.Groups is { } groups)
        {
            var summary = GroupAccuracySummary.Compute(heldOut.Labels, predicted, groups, heldOut.GroupNames!, heldOut.ClassCount);
            return (summary.WorstGroupAccuracy, summary.AverageAccuracy);
        }
        var byClass = GroupAccuracySummary.Compute(heldOut.Labels, predicted, new int[heldOut.Count], ["all"], heldOut.ClassCount);
        return (byClass.WorstClassAccuracy, byClass.AverageAccuracy);
    }

    private static void Shuffle(int[] values, Random random)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    private void ValidateOptions()
    {
        var o = TrainerOptions;
        Require(o.NumberOfMembers >= 1, nameof(o.NumberOfMembers), o.NumberOfMembers, "must be >= 1");
        Require(o.NumberOfEpochs >= 1, nameof(o.NumberOfEpochs), o.NumberOfEpochs, "must be >= 1");
        Require(o.BatchSize >= 1, nameof(o.BatchSize), o.BatchSize, "must be >= 1");
        Require(o.LearningRate >= 0 && double.IsFinite(o.LearningRate), nameof(o.LearningRate), o.LearningRate, "must be >= 0 and finite");
        Require(o.Momentum >= 0 && o.Momentum < 1, nameof(o.Momentum), o.Momentum, "must be in [0, 1)");
        Require(o.EntropicScale > 0 && double.IsFinite(o.EntropicScale), nameof(o.EntropicScale), o.EntropicScale, "must be > 0 and finite");
        Require(o.PrototypeWeightDecay >= 0 && double.IsFinite(o.PrototypeWeightDecay), nameof(o.PrototypeWeightDecay), o.PrototypeWeightDecay, "must be >= 0 and finite");
        Require(o.DiversityStrength >= 0 && double.IsFinite(o.DiversityStrength), nameof(o.DiversityStrength), o.DiversityStrength, "must be >= 0 and finite");
        Require(Enum.IsDefined(o.PrototypeInitialization), nameof(o.PrototypeInitialization), o.PrototypeInitialization, "must be Random or ClassMeans");
        Require(o.EvaluationBatchSize >= 1, nameof(o.EvaluationBatchSize), o.EvaluationBatchSize, "must be >= 1");
        Require(!string.IsNullOrEmpty(o.LabelColumnName), nameof(o.LabelColumnName), o.LabelColumnName, "must name a column");
        Require(!string.IsNullOrEmpty(o.FeatureColumnName), nameof(o.FeatureColumnName), o.FeatureColumnName, "must name a column");
    }

    private static void Require(bool ok, string name, object? value, string rule)
    {
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} {rule}; got {Convert.ToString(value, CultureInfo.InvariantCulture)}.");
    }
}
