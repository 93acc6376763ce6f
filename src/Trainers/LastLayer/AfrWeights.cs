namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>How AFR balances the classes in its row weights.</summary>
public enum AfrClassBalance
{
    /// <summary>No balancing: <c>w_i = u_i / sum_j u_j</c>.</summary>
    None,

    /// <summary>The released code's (default): <c>u_i</c> times <c>N / N_{y_i}</c> (the class's share of the rows
    /// inverted), then normalised to sum 1 over all rows, so a class's weight is its mean <c>u</c> relative to the others'.</summary>
    ClassSize,

    /// <summary>Normalised within each class: every class's weights sum to <c>1 / K</c>, whatever its rows' confidence.</summary>
    PerClass,
}

/// <summary>AFR's row weights (Qiu et al. 2023): <c>u_i = exp(-gamma p_i)</c>, with <c>p_i</c> the fitted model's
/// probability of row i's own label, class-balanced as <see cref="AfrClassBalance"/> says and normalised to sum 1: rows
/// the model already gets right with confidence weigh little, rows it gets wrong weigh up to <c>exp(gamma)</c> times more.</summary>
internal static class AfrWeights
{
    /// <summary>The weights of every row (double precision; they sum to 1).</summary>
    /// <param name="labelProbabilities">Each row's probability of its own label under the fitted model, in [0, 1].</param>
    /// <param name="labels">Each row's class.</param>
    /// <param name="classCount">K.</param>
    /// <param name="gamma">gamma, at least 0 (0: every row the same before balancing).</param>
    /// <param name="balance">The class balancing.</param>
    public static double[] Compute(IReadOnlyList<double> labelProbabilities, IReadOnlyList<int> labels, int classCount, double gamma, AfrClassBalance balance)
    {
        int n = labels.Count;
        var classRows = new int[classCount];
        foreach (var l in labels) classRows[l]++;
        var u = new double[n];
        for (int i = 0; i < n; i++) u[i] = Math.Exp(-gamma * labelProbabilities[i]);
        if (balance == AfrClassBalance.PerClass)
        {
            var classSums = new double[classCount];
            for (int i = 0; i < n; i++) classSums[labels[i]] += u[i];
            int present = classRows.Count(c => c > 0);
            for (int i = 0; i < n; i++) u[i] /= classSums[labels[i]] * present;
            return u;
        }
        if (balance == AfrClassBalance.ClassSize)
            for (int i = 0; i < n; i++) u[i] *= (double)n / classRows[labels[i]];
        double sum = u.Sum();
        for (int i = 0; i < n; i++) u[i] /= sum;
        return u;
    }
}
