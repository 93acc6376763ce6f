using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.LastLayer;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// FlatDebias on the last layer: the batched traces against <see cref="FisherTrace.Head"/> for each grid point, the
/// Lagrangian and the dual step against hand computations, the bound's quantile against numpy's rule, and the trainer on a
/// biased set (what it does to an ERM model's worst group, said either way), saved and loaded like every model.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class FlatDebiasLastLayerTests(ITestOutputHelper output)
{
    /// <summary>float64 throughout; the two routes differ only in summation order (1e-15 relative); 1e-12 leaves room and
    /// still catches any wrong factor.</summary>
    private const double Float64Tolerance = 1e-12;

    private readonly MLContext ml = new(0);

    [Theory]
    [InlineData(TraceEstimator.Exact)]
    [InlineData(TraceEstimator.Empirical)]
    public void Batched_traces_equal_the_library_head_trace_of_each_grid_point(TraceEstimator estimator)
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(3);
        var h = randn([7, 5], ScalarType.Float64, generator: generator);
        var logits = randn([3, 7, 4], ScalarType.Float64, generator: generator) * 3;
        var labels = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2 });
        var factor = h.square().sum(1) + 1.0;
        var batched = FlatDebiasLastLayerObjective.Traces(logits, labels, factor, estimator, 4);
        for (int g = 0; g < 3; g++)
        {
            var reference = FisherTrace.Head(h, logits[g], estimator, labels);
            var difference = (batched[g] - reference).abs().max().item<double>();
            Assert.True(difference <= Float64Tolerance * reference.abs().max().item<double>(), $"grid point {g}: {difference:E2}");
        }
    }

    [Fact]
    public void The_Lagrangian_and_the_dual_step_are_the_formulas_by_hand()
    {
        using var scope = NewDisposeScope();
        // Two rows of class 0 and one of class 1, two features; two grid points with their own bounds and dual steps.
        var features = tensor(new float[] { 1, 0, 0, 2, 1, 1 }, [3, 2]);
        int[] labels = [0, 0, 1];
        var w0 = tensor(new float[] { 0.5f, -0.5f, -0.5f, 0.5f }, [2, 2]);
        var b0 = tensor(new float[] { 0.1f, -0.1f });
        double[] bounds = [0.5, 2.0], steps = [0.3, 3.0], pulls = [0.2, 0.0];
        using var objective = new FlatDebiasLastLayerObjective(features, labels, 2, w0, b0, bounds, steps, pulls, maxDual: 1.0, TraceEstimator.Empirical, TraceGradient.Full);
        using var lossPenalty = new FlatDebiasLastLayerObjective(features, labels, 2, w0, b0, bounds, steps, pulls, maxDual: 1.0, TraceEstimator.Empirical, TraceGradient.Loss);
        var w = stack([w0 + 0.1f, w0]);
        var b = stack([b0, b0 - 0.2f]);
        var logits = FullBatchHeadSearch.Logits(features, w, b);

        double[][] x = [[1, 0], [0, 2], [1, 1]];
        double Trace(int g, int i, double[] p) => (Math.Pow(p[0] - (labels[i] == 0 ? 1 : 0), 2) + Math.Pow(p[1] - (labels[i] == 1 ? 1 : 0), 2)) * (x[i][0] * x[i][0] + x[i][1] * x[i][1] + 1);
        double[] P(int g, int i)
        {
            var z = logits[g][i].to(ScalarType.Float64).data<double>().ToArray();
            double m = z.Max(), e0 = Math.Exp(z[0] - m), e1 = Math.Exp(z[1] - m);
            return [e0 / (e0 + e1), e1 / (e0 + e1)];
        }
        // Multipliers start at 0: the loss is the class-balanced mean cross-entropy (c = 3/(2*2) for class 0, 3/(2*1) for
        // class 1) plus the pull.
        double expected = 0;
        for (int g = 0; g < 2; g++)
        {
            double ce = 0;
            for (int i = 0; i < 3; i++) ce += (labels[i] == 0 ? 0.75 : 1.5) * -Math.Log(P(g, i)[labels[i]]);
            double pull = (w[g] - w0).square().sum().item<float>() + (b[g] - b0).square().sum().item<float>();
            expected += ce / 3 + pulls[g] * pull;
        }
        Assert.Equal(expected, objective.Loss(logits, w, b).item<float>(), 1e-5); // float32 arithmetic: 1e-5 absolute on values near 1

        objective.AfterStep(logits);
        lossPenalty.AfterStep(logits);
        var mu = objective.Multipliers.to(ScalarType.Float64).data<double>().ToArray();
        Assert.Equal(mu, lossPenalty.Multipliers.to(ScalarType.Float64).data<double>().ToArray()); // the traces drive both
        for (int g = 0; g < 2; g++)
            for (int i = 0; i < 3; i++)
            {
                double step = Math.Clamp(steps[g] * (Trace(g, i, P(g, i)) / bounds[g] - 1), 0, 1.0);
                Assert.Equal(step, mu[g * 3 + i], 1e-5);
            }
        Assert.Contains(mu, m => m == 1.0);   // the cap binds somewhere
        Assert.Contains(mu, m => m == 0.0);   // and a row within its bound keeps 0
        Assert.Contains(mu, m => m > 0 && m < 1);

        // With multipliers, the trace penalty adds (1/N) sum mu_i (T_i / eps - 1); the loss penalty (1/N) sum mu_i CE_i.
        double withDual = expected, withLoss = expected;
        for (int g = 0; g < 2; g++)
            for (int i = 0; i < 3; i++)
            {
                withDual += mu[g * 3 + i] * (Trace(g, i, P(g, i)) / bounds[g] - 1) / 3;
                withLoss += mu[g * 3 + i] * -Math.Log(P(g, i)[labels[i]]) / 3;
            }
        Assert.Equal(withDual, objective.Loss(logits, w, b).item<float>(), 1e-5);
        Assert.Equal(withLoss, lossPenalty.Loss(logits, w, b).item<float>(), 1e-5);
        Assert.NotEqual(withDual, withLoss, 1e-3);
    }

    [Fact]
    public void The_bound_is_numpys_linear_quantile()
    {
        double[] values = [4, 1, 3, 2];
        Assert.Equal(2.5, FlatDebiasLastLayerTrainer.Quantile(values, 0.5), 1e-15);
        Assert.Equal(3.7, FlatDebiasLastLayerTrainer.Quantile(values, 0.9), 1e-12);
        Assert.Equal(1, FlatDebiasLastLayerTrainer.Quantile(values, 0), 1e-15);
    }

    [Fact]
    public void On_a_biased_set_it_re_fits_the_head_of_an_ERM_model_and_saves_like_any_model()
    {
        // As AFR's test: 99 % of the training rows' colours agree with the orientation; the re-weighting rows have the
        // same bias (no group read); validation worst class chooses.
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(800, 0.99, 121));
        var reweighting = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(400, 0.95, 222));
        var validation = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(25, 223));
        var test = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(100, 123));
        using var erm = ml.MulticlassClassification.Trainers.Erm(new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 8, NumberOfEpochs = 4, BatchSize = 32, LearningRate = 3e-3,
            Optimizer = OptimizerKind.Adam, Seed = 7, Device = TrainingDevice.Cpu,
        }).Fit(train);
        var options = new FlatDebiasLastLayerTrainer.Options { ValidationSet = validation, LearningRate = 1 };
        using var flat = ml.MulticlassClassification.Trainers.FlatDebiasLastLayer(erm, options).Fit(reweighting);
        using var again = ml.MulticlassClassification.Trainers.FlatDebiasLastLayer(erm, options).Fit(reweighting);
        Assert.Equal(flat.Network.Head.weight.data<float>().ToArray(), again.Network.Head.weight.data<float>().ToArray());

        var ermGroups = ml.MulticlassClassification.EvaluateGroups(erm.Transform(test));
        var flatGroups = ml.MulticlassClassification.EvaluateGroups(flat.Transform(test));
        var report = flat.History.LastLayerSearch!;
        output.WriteLine(report.ToString());
        output.WriteLine($"test worst group: ERM {ermGroups.WorstGroupAccuracy:F3} (average {ermGroups.AverageAccuracy:F3}), FlatDebias last layer {flatGroups.WorstGroupAccuracy:F3} (average {flatGroups.AverageAccuracy:F3})");
        Assert.Equal(18, report.Candidates.Count);
        Assert.Equal("FlatDebias last layer", report.Method);
        Assert.Equal(report.Candidates.Max(c => c.ValidationScore), report.ChosenCandidate.ValidationScore);
        Assert.True(flatGroups.WorstGroupAccuracy > ermGroups.WorstGroupAccuracy + 0.2,
            $"FlatDebias's last layer {flatGroups.WorstGroupAccuracy:F3} should beat ERM {ermGroups.WorstGroupAccuracy:F3} clearly");

        using var folder = new TempFolder();
        var path = folder.Combine("flat.zip");
        ml.Model.Save(flat, reweighting.Schema, path);
        var fresh = new MLContext(seed: 3);
        var loaded = fresh.Model.Load(path, out _);
        Assert.Equal(flat.Transform(test).GetColumn<uint>("PredictedLabel"), loaded.Transform(BiasedShapes.ToDataView(fresh, BiasedShapes.Groups(100, 123))).GetColumn<uint>("PredictedLabel"));
    }

    [Fact]
    public void Bad_options_are_named()
    {
        var erm = (ClassifierNetworkTransformer?)null;
        void Fails(Action<FlatDebiasLastLayerTrainer.Options> change, params string[] named)
        {
            using var model = erm ??= ml.MulticlassClassification.Trainers.Erm(new ErmTrainer.Options
            {
                Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 1, Seed = 1, Device = TrainingDevice.Cpu,
            }).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(64, 0.5, 251)));
            var o = new FlatDebiasLastLayerTrainer.Options { ValidationSet = BiasedShapes.ToDataView(ml, BiasedShapes.Groups(4, 252)), NumberOfEpochs = 2 };
            change(o);
            var e = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.FlatDebiasLastLayer(model, o).Fit(BiasedShapes.ToDataView(ml, BiasedShapes.Rows(20, 0.5, 253))));
            foreach (var text in named) Assert.Contains(text, e.Message);
            erm = null;
        }
        Fails(o => o.TraceBoundQuantiles = [], "TraceBoundQuantiles");
        Fails(o => o.TraceBoundQuantiles = [0.5, 1], "TraceBoundQuantiles", "(0, 1)");
        Fails(o => o.DualLearningRates = [0], "DualLearningRates");
        Fails(o => o.MaxDual = double.PositiveInfinity, "MaxDual");
        Fails(o => o.PullStrength = -1, "PullStrength");
        Fails(o => o.Estimator = TraceEstimator.Sampled, "Estimator", "Empirical or Exact");
        Fails(o => o.Penalty = TraceGradient.ProbabilitiesOnly, "Penalty", "Loss or Full");
        Fails(o => o.ValidationSet = null, "ValidationSet");
    }
}
