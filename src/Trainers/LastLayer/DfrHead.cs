using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>
/// Per-feature standardisation as scikit-learn's <c>StandardScaler</c>: the mean and the population standard deviation
/// (divided by n) of the rows it is fitted on, with a deviation of (nearly) zero replaced by 1 so a constant feature
/// maps to 0 instead of dividing by zero.
/// </summary>
internal sealed class Standardization
{
    // StandardScaler treats a scale below 10 machine epsilons as zero (sklearn.preprocessing._data._handle_zeros_in_scale).
    private const double ZeroScale = 10 * 2.220446049250313e-16;

    private Standardization(double[] mean, double[] scale)
    {
        Mean = mean;
        Scale = scale;
    }

    /// <summary>Per-feature mean.</summary>
    public double[] Mean { get; }

    /// <summary>Per-feature standard deviation (1 where it is zero).</summary>
    public double[] Scale { get; }

    /// <summary>Fits on the given rows of <paramref name="features"/>, in double precision.</summary>
    public static Standardization Fit(IReadOnlyList<float[]> features, IReadOnlyList<int> rows)
    {
        if (rows.Count == 0) throw new ArgumentException("Standardisation needs at least one row.", nameof(rows));
        int d = features[rows[0]].Length;
        var mean = new double[d];
        foreach (var r in rows)
        {
            var x = features[r];
            for (int j = 0; j < d; j++) mean[j] += x[j];
        }
        for (int j = 0; j < d; j++) mean[j] /= rows.Count;
        var scale = new double[d];
        foreach (var r in rows)
        {
            var x = features[r];
            for (int j = 0; j < d; j++)
            {
                double centred = x[j] - mean[j];
                scale[j] += centred * centred;
            }
        }
        for (int j = 0; j < d; j++)
        {
            scale[j] = Math.Sqrt(scale[j] / rows.Count);
            if (scale[j] < ZeroScale) scale[j] = 1;
        }
        return new Standardization(mean, scale);
    }

    /// <summary>The standardised row, <c>(x - mean) / scale</c> as float.</summary>
    public float[] Apply(float[] x)
    {
        var z = new float[x.Length];
        for (int j = 0; j < x.Length; j++) z[j] = (float)((x[j] - Mean[j]) / Scale[j]);
        return z;
    }
}

/// <summary>A linear head: logits <c>W x + b</c> with <c>W</c> of shape [classes, features], in double precision.</summary>
internal sealed class LinearHead
{
    public LinearHead(double[,] weights, double[] biases)
    {
        if (weights.GetLength(0) != biases.Length) throw new ArgumentException("One bias per class (row of the weights) is needed.", nameof(biases));
        Weights = weights;
        Biases = biases;
    }

    /// <summary>The weights, [classes, features].</summary>
    public double[,] Weights { get; }

    /// <summary>The biases, one per class.</summary>
    public double[] Biases { get; }

    public int ClassCount => Biases.Length;

    public int FeatureCount => Weights.GetLength(1);

    /// <summary>The arg-max class of <c>W x + b</c> (ties to the lowest index, as <c>argmax</c>).</summary>
    public int Predict(float[] x)
    {
        int best = 0;
        double bestLogit = double.NegativeInfinity;
        for (int k = 0; k < ClassCount; k++)
        {
            double logit = Biases[k];
            for (int j = 0; j < x.Length; j++) logit += Weights[k, j] * x[j];
            if (logit > bestLogit)
            {
                bestLogit = logit;
                best = k;
            }
        }
        return best;
    }

    /// <summary>The element-wise mean of heads of the same shape.</summary>
    public static LinearHead Mean(IReadOnlyList<LinearHead> heads)
    {
        if (heads.Count == 0) throw new ArgumentException("Nothing to average.", nameof(heads));
        int k = heads[0].ClassCount, d = heads[0].FeatureCount;
        var weights = new double[k, d];
        var biases = new double[k];
        foreach (var head in heads)
        {
            if (head.ClassCount != k || head.FeatureCount != d) throw new ArgumentException("The heads differ in shape.", nameof(heads));
            for (int c = 0; c < k; c++)
            {
                biases[c] += head.Biases[c];
                for (int j = 0; j < d; j++) weights[c, j] += head.Weights[c, j];
            }
        }
        for (int c = 0; c < k; c++)
        {
            biases[c] /= heads.Count;
            for (int j = 0; j < d; j++) weights[c, j] /= heads.Count;
        }
        return new LinearHead(weights, biases);
    }

    /// <summary>This head, which reads standardised features, rewritten to read raw ones:
    /// <c>W' = W / scale</c> (per feature) and <c>b' = b - W' mean</c>, so <c>W' x + b' = W ((x - mean) / scale) + b</c>.</summary>
    public LinearHead Fold(Standardization standardization)
    {
        int k = ClassCount, d = FeatureCount;
        var weights = new double[k, d];
        var biases = new double[k];
        for (int c = 0; c < k; c++)
        {
            double bias = Biases[c];
            for (int j = 0; j < d; j++)
            {
                weights[c, j] = Weights[c, j] / standardization.Scale[j];
                bias -= weights[c, j] * standardization.Mean[j];
            }
            biases[c] = bias;
        }
        return new LinearHead(weights, biases);
    }

    /// <summary>The weights as a row-major float array [classes * features].</summary>
    public float[] WeightsAsFloats()
    {
        int k = ClassCount, d = FeatureCount;
        var values = new float[k * d];
        for (int c = 0; c < k; c++)
            for (int j = 0; j < d; j++) values[c * d + j] = (float)Weights[c, j];
        return values;
    }
}

/// <summary>
/// One L1-regularised multinomial logistic regression, fitted by ML.NET's own <c>LbfgsMaximumEntropy</c> (OWL-QN),
/// with the inverse strength C of scikit-learn's <c>LogisticRegression</c>.
/// </summary>
/// <remarks>
/// ML.NET's L-BFGS trainers minimise <c>(sum_i loss_i + L2/2 ||w||^2) / N + (L1 / N) ||w||_1</c> over N rows of
/// weight 1 (<c>LbfgsTrainerBase.DifferentiableFunction</c> divides the summed loss by the weight sum, and
/// <c>InitializeOptimizer</c> hands OWL-QN <c>L1Regularization / NumGoodRows</c>); the biases are not penalised.
/// Times N, that is <c>sum_i loss_i + L1 ||w||_1</c>; scikit-learn minimises <c>||w||_1 + C sum_i loss_i</c>, which
/// divided by C is the same with <c>L1 = 1 / C</c>, whatever N is.
/// </remarks>
internal static class DfrLogisticRegression
{
    /// <summary>ML.NET's <c>L1Regularization</c> for scikit-learn's C.</summary>
    public static float L1Regularization(double inverseRegularization) => (float)(1.0 / inverseRegularization);

    /// <summary>The trainer options used for every fit: <c>L1Regularization = 1 / C</c>, no L2, one thread (the sum of
    /// the loss is then taken in row order, so a fit is repeatable); ML.NET's defaults otherwise (optimisation
    /// tolerance 1e-7, history 20, no iteration limit, zero initial weights).</summary>
    public static LbfgsMaximumEntropyMulticlassTrainer.Options Options(double inverseRegularization) => new()
    {
        LabelColumnName = nameof(HeadRow.Label),
        FeatureColumnName = nameof(HeadRow.Features),
        L1Regularization = L1Regularization(inverseRegularization),
        L2Regularization = 0,
        NumberOfThreads = 1,
    };

    /// <summary>Fits a head on <paramref name="features"/> (already standardised) with zero-based class labels.</summary>
    public static LinearHead Fit(MLContext mlContext, IReadOnlyList<float[]> features, IReadOnlyList<int> labels, int classCount, double inverseRegularization)
    {
        var data = ToDataView(mlContext, features, labels, classCount);
        var model = mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy(Options(inverseRegularization)).Fit(data).Model;
        return Read(model, classCount, features[0].Length);
    }

    /// <summary>Rows as a data view: <c>Label</c> a key of <paramref name="classCount"/> values (class c is key value c + 1),
    /// <c>Features</c> a known-size Single vector.</summary>
    public static IDataView ToDataView(MLContext mlContext, IReadOnlyList<float[]> features, IReadOnlyList<int> labels, int classCount)
    {
        if (features.Count == 0 || features.Count != labels.Count) throw new ArgumentException("One label per feature row, and at least one row, are needed.", nameof(labels));
        int d = features[0].Length;
        // LoadFromEnumerable reads a key member as the zero-based index and stores index + 1 (0 is the missing key).
        var rows = features.Select((x, i) => new HeadRow { Label = (uint)labels[i], Features = x }).ToList();
        var definition = SchemaDefinition.Create(typeof(HeadRow));
        definition[nameof(HeadRow.Label)].ColumnType = new KeyDataViewType(typeof(uint), classCount);
        definition[nameof(HeadRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, d);
        return mlContext.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>The weights and biases of a fitted model.</summary>
    public static LinearHead Read(MaximumEntropyModelParameters model, int classCount, int featureCount)
    {
        VBuffer<float>[] weights = [];
        model.GetWeights(ref weights, out int classes);
        var biases = model.GetBiases().Select(v => (double)v).ToArray();
        if (classes != classCount || biases.Length != classCount)
            throw new InvalidOperationException($"ML.NET's logistic regression returned {classes} classes; expected {classCount}.");
        var w = new double[classCount, featureCount];
        for (int c = 0; c < classCount; c++)
        {
            if (weights[c].Length != featureCount)
                throw new InvalidOperationException($"ML.NET's logistic regression returned {weights[c].Length} weights for class {c}; expected {featureCount}.");
            int j = 0;
            foreach (var value in weights[c].DenseValues()) w[c, j++] = value;
        }
        return new LinearHead(w, biases);
    }

    /// <summary>One training row for ML.NET (public members for its reflection).</summary>
    internal sealed class HeadRow
    {
        public uint Label { get; set; }

        public float[] Features { get; set; } = [];
    }
}
