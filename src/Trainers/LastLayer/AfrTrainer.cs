using System.Globalization;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>
/// Automatic Feature Reweighting (Qiu, Potapczynski, Izmailov &amp; Wilson, "Simple and Fast Group Robustness by Automatic
/// Feature Reweighting", ICML 2023): keeps a fitted (ERM) model's network frozen and re-fits its last layer on rows the
/// model did not train on, each row weighted by how little the model believes its label, with a pull towards the fitted
/// head. No group label is needed to train; validation groups (or, without them, the classes) choose the weighting's
/// strength, the pull and the epoch.
/// </summary>
/// <remarks>
/// <para><b>As the released code runs it</b> (AndPotap/afr): the training set is shuffled once and split, 80 % for the ERM
/// model and 20 % for the re-weighting rows; give the fitted model the first part and <c>Fit</c> the second, e.g.
/// <c>var parts = mlContext.Data.TrainTestSplit(train, testFraction: 0.2, seed: 21)</c>, ERM on <c>parts.TrainSet</c>, AFR on
/// <c>parts.TestSet</c>. Row weights from the fitted head (<c>W0</c>, <c>b0</c>), fixed: <c>u_i = exp(-gamma p_i)</c> with
/// <c>p_i</c> the model's probability of the row's label, times <c>N / N_y</c> for class balance, normalised to sum 1
/// (<see cref="AfrClassBalance"/>). Every grid point's head starts at <c>(W0, b0)</c> and minimises
/// <c>sum_i w_i CE_i + lambda (||W - W0||^2 + ||b - b0||^2)</c> by full-batch SGD (500 steps of 1e-2, gradient clipped to norm
/// 1); its epoch with the best validation worst-group accuracy is kept, then the grid point with the best of those. The
/// grid is the Waterbirds notebook's: gamma in linspace(4, 20, 33), lambda in {0, 0.1, 0.2, 0.3}.</para>
/// <para><b>Where code and paper differ</b>: the weights are normalised over all rows after the <c>N / N_y</c> factor in the
/// code (<see cref="AfrClassBalance.ClassSize"/>, the default) and per class in the paper's wording
/// (<see cref="AfrClassBalance.PerClass"/>); the notebook starts the head's change at PyTorch's random initialisation, the
/// scripts at zero (the fitted head): the same objective, and this class starts at the fitted head. Without group labels
/// the released sweeps still choose on validation groups; here, without <see cref="LastLayerSearchOptions.GroupColumnName"/>,
/// the worst class chooses (our group-free port).</para>
/// <para><b>Output</b>: <c>Score</c>, <c>PredictedLabel</c>; the frozen network plus the new linear layer, saved as one ONNX
/// graph like every model of this library; <see cref="TrainingHistory.LastLayerSearch"/> lists every grid point.</para>
/// </remarks>
public sealed class AfrTrainer : LastLayerSearchTrainer<AfrTrainer.Options>
{
    internal AfrTrainer(ClassifierNetworkTransformer fittedModel, Options options) : base(fittedModel, options, "AFR")
    {
    }

    /// <summary>Options of <see cref="AfrTrainer"/>.</summary>
    public sealed class Options : LastLayerSearchOptions
    {
        /// <summary>The weighting strengths gamma to try. Default the Waterbirds notebook's linspace(4, 20, 33) (4, 4.5, ...,
        /// 20). Range: at least one value, each &gt;= 0 and finite (0: uniform weights before class balancing).</summary>
        public double[] Gammas { get; set; } = TrainerDefaults.AfrGammas();

        /// <summary>The pulls lambda towards the fitted head to try. Default {0, 0.1, 0.2, 0.3} (the Waterbirds notebook's).
        /// Range: at least one value, each &gt;= 0 and finite.</summary>
        public double[] PullStrengths { get; set; } = TrainerDefaults.AfrPullStrengths();

        /// <summary>How the weights balance the classes. Default <see cref="AfrClassBalance.ClassSize"/> (the released code's).</summary>
        public AfrClassBalance ClassBalance { get; set; } = AfrClassBalance.ClassSize;
    }

    private protected override void ValidateMethodOptions()
    {
        var o = TrainerOptions;
        RequireGrid(o.Gammas, nameof(o.Gammas), v => v >= 0 && double.IsFinite(v), "must hold values >= 0 and finite");
        RequireGrid(o.PullStrengths, nameof(o.PullStrengths), v => v >= 0 && double.IsFinite(v), "must hold values >= 0 and finite");
        Require(Enum.IsDefined(o.ClassBalance), nameof(o.ClassBalance), o.ClassBalance, "must be None, ClassSize or PerClass");
    }

    private protected override SearchGrid CreateGrid(FrozenModelRows rows, Tensor features, Tensor w0, Tensor b0)
    {
        var o = TrainerOptions;
        var probabilities = LabelProbabilities(features, w0, b0, rows.Labels);
        var weights = new List<double[]>();
        var pulls = new List<double>();
        var values = new List<string>();
        foreach (var gamma in o.Gammas)
        {
            var w = AfrWeights.Compute(probabilities, rows.Labels, rows.ClassCount, gamma, o.ClassBalance);
            foreach (var lambda in o.PullStrengths)
            {
                weights.Add(w);
                pulls.Add(lambda);
                values.Add(string.Create(CultureInfo.InvariantCulture, $"gamma={gamma:G6};lambda={lambda:G6}"));
            }
        }
        return new SearchGrid(new AfrObjective(weights, pulls, rows.Labels, w0, b0), values);
    }

    /// <summary>Each row's probability of its own label under the head <c>(w0, b0)</c>, in double precision.</summary>
    internal static double[] LabelProbabilities(Tensor features, Tensor w0, Tensor b0, IReadOnlyList<int> labels)
    {
        using var scope = NewDisposeScope();
        var logits = features.to(ScalarType.Float64).matmul(w0.to(ScalarType.Float64).t()) + b0.to(ScalarType.Float64);
        var p = logits.softmax(1).gather(1, tensor(labels.Select(l => (long)l).ToArray()).view(-1, 1)).view(-1);
        return p.data<double>().ToArray();
    }
}
