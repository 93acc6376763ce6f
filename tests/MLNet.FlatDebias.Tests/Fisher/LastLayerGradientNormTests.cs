using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers.Fisher;
using MLNet.FlatDebias.Trainers.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Tests.Fisher;

[Collection(TorchCollection.Name)]
public sealed class LastLayerGradientNormTests
{
    private const int Classes = 3;
    private const int Batch = 5;

    /// <summary>
    /// Float32 networks (as trained): the closed form and the autograd loop sum the same products in different
    /// orders, about 1e-7 relative apart. 1e-4 relative leaves room for other CPUs and is far tighter than the
    /// wrong-formula differences <see cref="Wrong_exponent_missing_bias_or_p_instead_of_p_minus_e_y_are_caught"/> shows.
    /// </summary>
    private const double RelativeTolerance = 1e-4;

    public static TheoryData<string, double, bool> Cases()
    {
        var data = new TheoryData<string, double, bool>();
        foreach (var net in new[] { "Mlp", "SmallCnn" })
            foreach (var r in new[] { 2.0, 1.0, 0.7 })
                foreach (var bias in new[] { false, true })
                    data.Add(net, r, bias);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Closed_form_equals_the_per_sample_autograd_loop(string networkName, double r, bool includeBias)
    {
        using var scope = NewDisposeScope();
        var (net, x, labels) = EvalFloat32Network(networkName, seed: 31);
        using var _ = net;

        var fast = LastLayerGradientNorm.Compute(net, x, labels, r, includeBias);
        var reference = PerSampleAutogradNorms(net, x, labels, r, includeBias);

        Assert.False(net.training, "Compute must leave the network's mode as it found it");
        Assert.False(fast.requires_grad, "the scores carry no graph");
        Assert.Equal(ScalarType.Float32, fast.dtype);
        Assert.True((reference > 0).all().item<bool>(), "norms should be positive");
        TensorAssert.RelativeClose(reference, fast.to_type(ScalarType.Float64), RelativeTolerance, $"{networkName} r={r} bias={includeBias}");
    }

    [Fact]
    public void Wrong_exponent_missing_bias_or_p_instead_of_p_minus_e_y_are_caught()
    {
        using var scope = NewDisposeScope();
        var (net, x, labels) = EvalFloat32Network("Mlp", seed: 32);
        using var _ = net;
        const double R = 0.7;
        var reference = PerSampleAutogradNorms(net, x, labels, R, includeBias: true);

        Tensor features, logits;
        using (no_grad())
        {
            features = net.Features(x);
            logits = net.Head.call(features);
        }
        var wrongExponent = LastLayerGradientNorm.FromFeatures(features, logits, labels, r: 2, includeBias: true);
        var missingBias = LastLayerGradientNorm.FromFeatures(features, logits, labels, R, includeBias: false);
        var p = nn.functional.softmax(logits, 1).to_type(ScalarType.Float64);
        var withOne = cat([features.to_type(ScalarType.Float64), ones(Batch, 1, dtype: ScalarType.Float64)], 1);
        var probabilitiesNotError = p.abs().pow(R).sum(1).pow(1 / R) * withOne.abs().pow(R).sum(1).pow(1 / R);

        foreach (var (what, wrong) in new[] { ("r = 2", wrongExponent), ("no bias", missingBias), ("p, not p - e_y", probabilitiesNotError) })
        {
            double worst = ((wrong.to_type(ScalarType.Float64) - reference).abs() / reference).max().ToDoubleValue();
            Assert.True(worst > 100 * RelativeTolerance, $"{what} is only {worst:G3} relative from the r = {R} oracle with bias");
        }
    }

    [Fact]
    public void Compute_leaves_a_network_in_training_mode_in_training_mode()
    {
        using var scope = NewDisposeScope();
        var (net, x, labels) = EvalFloat32Network("Mlp", seed: 33);
        using var _ = net;
        net.train();
        LastLayerGradientNorm.Compute(net, x, labels);
        Assert.True(net.training);
    }

    [Fact]
    public void An_all_zero_feature_row_scores_zero_not_nan()
    {
        using var scope = NewDisposeScope();
        var features = tensor(new float[,] { { 0, 0, 0 }, { 1, -2, 0.5f } });
        var logits = tensor(new float[,] { { 0.2f, -0.1f }, { 1, 0 } });
        var labels = tensor(new long[] { 0, 1 });
        var norms = LastLayerGradientNorm.FromFeatures(features, logits, labels, r: 0.7);
        Assert.Equal(0.0, norms[0].ToDoubleValue());
        Assert.True(norms[1].ToDoubleValue() > 0);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void R_that_is_not_finite_and_positive_is_rejected(double r)
    {
        using var scope = NewDisposeScope();
        var (net, x, labels) = EvalFloat32Network("Mlp", seed: 34);
        using var _ = net;
        var features = zeros(Batch, net.FeatureDimension);
        var logits = zeros(Batch, Classes);
        Assert.Equal("r", Assert.Throws<ArgumentOutOfRangeException>(() => LastLayerGradientNorm.Compute(net, x, labels, r)).ParamName);
        Assert.Equal("r", Assert.Throws<ArgumentOutOfRangeException>(() => LastLayerGradientNorm.FromFeatures(features, logits, labels, r)).ParamName);
    }

    [Fact]
    public void Features_with_the_wrong_number_of_rows_are_rejected()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() =>
            LastLayerGradientNorm.FromFeatures(zeros(4, 6), zeros(5, 3), zeros(5, dtype: ScalarType.Int64)));
        Assert.Contains("[4, 6]", error.Message);
        Assert.Contains("[5, 3]", error.Message);
    }

    private static (ClassifierNetwork Network, Tensor Inputs, Tensor Labels) EvalFloat32Network(string name, int seed)
    {
        var (net, x) = FisherTestNetworks.Create(name, Classes, Batch, seed);
        net.to(ScalarType.Float32);
        net.eval();
        var labels = randint(0, Classes, [Batch], dtype: ScalarType.Int64);
        return (net, x.to_type(ScalarType.Float32), labels);
    }

    /// <summary>The definition, one row at a time: backward that row's cross-entropy, read the head's gradients, take
    /// the entrywise r-norm in double.</summary>
    private static Tensor PerSampleAutogradNorms(ClassifierNetwork net, Tensor x, Tensor labels, double r, bool includeBias)
    {
        var norms = new double[x.shape[0]];
        for (long i = 0; i < x.shape[0]; i++)
        {
            using var scope = NewDisposeScope();
            net.zero_grad();
            var row = TensorIndex.Slice(i, i + 1);
            nn.functional.cross_entropy(net.forward(x[row]), labels[row]).backward();
            double sum = SumOfPowers(net.Head.weight!.grad!, r);
            if (includeBias) sum += SumOfPowers(net.Head.bias!.grad!, r);
            norms[i] = Math.Pow(sum, 1 / r);
        }
        net.zero_grad();
        return tensor(norms);
    }

    private static double SumOfPowers(Tensor gradient, double r)
        => gradient.to_type(ScalarType.Float64).data<double>().ToArray().Sum(g => Math.Pow(Math.Abs(g), r));
}
