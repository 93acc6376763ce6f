using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Losses;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Losses;

[Collection(TorchCollection.Name)]
public sealed class GeneralizedCrossEntropyTests
{
    // Five rows, four classes: a confident right row, a wrong row, a very confident row (p_y ~ 0.999), a uniform row,
    // a very wrong row (p_y ~ 3e-4).
    private static readonly double[,] Logits =
    {
        { 2.0, -1.0, 0.5, 0.0 },
        { 0.3, 0.1, -0.2, 2.5 },
        { 5.0, -3.0, -2.0, -4.0 },
        { -1.0, -1.0, -1.0, -1.0 },
        { 0.0, 4.0, -4.0, 1.0 },
    };

    private static readonly long[] Labels = [0, 1, 0, 2, 2];

    [Theory]
    [InlineData(ScalarType.Float64, 0.7, 1e-12)]
    [InlineData(ScalarType.Float64, 0.2, 1e-12)]
    // Float32: log_softmax's log p_y carries an absolute error of a few ulps of the log-sum-exp (about 1e-7 for
    // logits within +-5), and the loss's error is p_y^q times that. Relative per row would not do: the confident
    // row's loss is ~1e-3, so 1e-7 absolute is ~1e-4 of it. 1e-6 absolute (Close scales by max(1, max |L|)) leaves a
    // margin of ten and still catches a wrong q or a missing 1/q, which move the values by more than 1e-2.
    [InlineData(ScalarType.Float32, 0.7, 1e-6)]
    [InlineData(ScalarType.Float32, 0.2, 1e-6)]
    public void Per_sample_values_equal_the_formula_computed_by_hand(ScalarType dtype, double q, double tolerance)
    {
        using var scope = NewDisposeScope();
        var logits = LogitsTensor(dtype);
        var actual = GeneralizedCrossEntropy.PerSample(logits, LabelsTensor(), q);

        // The hand computation starts from the values the tensor holds (float32-rounded in the float32 case).
        var held = HeldLogits(logits);
        var expected = new double[Labels.Length];
        for (int i = 0; i < Labels.Length; i++)
            expected[i] = (1 - Math.Pow(Probabilities(held, i)[Labels[i]], q)) / q;

        Assert.Equal(dtype, actual.dtype);
        TensorAssert.Close(tensor(expected), actual.to_type(ScalarType.Float64), tolerance, $"GCE q={q} {dtype}");
    }

    [Fact]
    public void Q_of_one_gives_one_minus_the_label_probability()
    {
        using var scope = NewDisposeScope();
        var logits = LogitsTensor(ScalarType.Float64);
        var labels = LabelsTensor();
        var oneMinusP = 1 - nn.functional.softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
        // Float64 throughout, two routes to the same number: a few ulps apart.
        TensorAssert.Close(oneMinusP, GeneralizedCrossEntropy.PerSample(logits, labels, q: 1), 1e-12, "q = 1");
    }

    [Fact]
    public void Small_q_is_close_to_cross_entropy()
    {
        using var scope = NewDisposeScope();
        const double Q = 1e-4;
        // Float32 on purpose: 1 - exp(-q CE) computed naively loses everything below 6e-8 / q = 6e-4 of the loss to
        // cancellation; the expm1 form does not, so the bound below also checks the implementation's numerics.
        var logits = LogitsTensor(ScalarType.Float32);
        var labels = LabelsTensor();
        var gce = GeneralizedCrossEntropy.PerSample(logits, labels, Q).to_type(ScalarType.Float64);
        var ce = nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.None).to_type(ScalarType.Float64);

        // (1 - exp(-q CE)) / q = CE - q CE^2 / 2 + O(q^2 CE^3), so |GCE - CE| <= q CE^2 (with room for the O(q^2) term),
        // plus a few float32 ulps of CE for the rounding of log_softmax and expm1.
        var bound = Q * ce.pow(2) + 1e-6 * ce;
        var difference = (gce - ce).abs();
        Assert.True((difference <= bound).all().item<bool>(),
            $"|GCE - CE| = [{string.Join(", ", difference.data<double>().ToArray())}] exceeds q CE^2 + 1e-6 CE = [{string.Join(", ", bound.data<double>().ToArray())}]");
        // Not trivially equal: the largest loss shows the expected first-order gap.
        Assert.True((ce - gce).max().ToDoubleValue() > 0.25 * Q * ce.pow(2).max().ToDoubleValue());
    }

    [Theory]
    [InlineData(0.7)]
    [InlineData(0.3)]
    public void Gradient_with_respect_to_logits_is_p_y_to_the_q_times_cross_entropys(double q)
    {
        using var scope = NewDisposeScope();
        var logits = LogitsTensor(ScalarType.Float64).requires_grad_(true);
        GeneralizedCrossEntropy.PerSample(logits, LabelsTensor(), q).sum().backward();

        var held = HeldLogits(logits.detach());
        int rows = Labels.Length, classes = held.GetLength(1);
        var expected = new double[rows * classes];
        for (int i = 0; i < rows; i++)
        {
            var p = Probabilities(held, i);
            double scale = Math.Pow(p[Labels[i]], q);
            for (int k = 0; k < classes; k++) expected[i * classes + k] = scale * (p[k] - (k == Labels[i] ? 1 : 0));
        }
        // Float64 autograd against the float64 closed form: a few ulps apart.
        TensorAssert.Close(tensor(expected).reshape(rows, classes), logits.grad!, 1e-12, $"dGCE/dz q={q}");
    }

    [Fact]
    public void Mean_is_the_plain_mean_without_weights_and_the_weighted_mean_with_them()
    {
        using var scope = NewDisposeScope();
        var logits = LogitsTensor(ScalarType.Float64);
        var labels = LabelsTensor();
        var perSample = GeneralizedCrossEntropy.PerSample(logits, labels).data<double>().ToArray();

        double plain = GeneralizedCrossEntropy.Mean(logits, labels).ToDoubleValue();
        Assert.True(Math.Abs(perSample.Average() - plain) <= 1e-12, $"plain mean {plain} vs {perSample.Average()}");

        double[] w = [1, 0, 2, 0, 0.5];
        double expected = perSample.Zip(w, (l, wi) => l * wi).Sum() / w.Sum();
        double weighted = GeneralizedCrossEntropy.Mean(logits, labels, weights: tensor(w)).ToDoubleValue();
        Assert.True(Math.Abs(expected - weighted) <= 1e-12, $"weighted mean {weighted} vs {expected}");
        Assert.True(Math.Abs(weighted - plain) > 1e-3, "the weights must change the mean");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.0000001)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Q_outside_zero_to_one_is_rejected(double q)
    {
        using var scope = NewDisposeScope();
        var logits = LogitsTensor(ScalarType.Float32);
        var labels = LabelsTensor();
        Assert.Equal("q", Assert.Throws<ArgumentOutOfRangeException>(() => GeneralizedCrossEntropy.PerSample(logits, labels, q)).ParamName);
        Assert.Equal("q", Assert.Throws<ArgumentOutOfRangeException>(() => GeneralizedCrossEntropy.Mean(logits, labels, q)).ParamName);
    }

    [Fact]
    public void Mismatched_shapes_are_rejected_with_both_shapes_named()
    {
        using var scope = NewDisposeScope();
        var logits = zeros(3, 4);
        var error = Assert.Throws<ArgumentException>(() => GeneralizedCrossEntropy.PerSample(logits, zeros(2, dtype: ScalarType.Int64)));
        Assert.Contains("[3, 4]", error.Message);
        Assert.Contains("[2]", error.Message);

        error = Assert.Throws<ArgumentException>(() => GeneralizedCrossEntropy.PerSample(zeros(4), zeros(4, dtype: ScalarType.Int64)));
        Assert.Contains("[4]", error.Message);

        error = Assert.Throws<ArgumentException>(() => GeneralizedCrossEntropy.Mean(logits, zeros(3, dtype: ScalarType.Int64), weights: ones(5)));
        Assert.Contains("[3, 4]", error.Message);
        Assert.Contains("[5]", error.Message);
    }

    private static Tensor LogitsTensor(ScalarType dtype) => tensor(Logits).to_type(dtype);

    private static Tensor LabelsTensor() => tensor(Labels);

    private static double[,] HeldLogits(Tensor logits)
    {
        var values = logits.to_type(ScalarType.Float64).data<double>().ToArray();
        int rows = (int)logits.shape[0], classes = (int)logits.shape[1];
        var held = new double[rows, classes];
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < classes; k++) held[i, k] = values[i * classes + k];
        return held;
    }

    private static double[] Probabilities(double[,] logits, int row)
    {
        int classes = logits.GetLength(1);
        double max = Enumerable.Range(0, classes).Max(k => logits[row, k]);
        var exp = Enumerable.Range(0, classes).Select(k => Math.Exp(logits[row, k] - max)).ToArray();
        double sum = exp.Sum();
        return exp.Select(e => e / sum).ToArray();
    }
}
