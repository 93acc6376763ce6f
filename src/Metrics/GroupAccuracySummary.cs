namespace MLNet.FlatDebias.Metrics;

/// <summary>
/// Per-group and per-class accuracy counts of one set of predictions, and the summaries built on them
/// (worst group, mean group accuracy, worst class). Torch-free and allocation-light (a few arrays of
/// groups × classes), so a trainer can call <see cref="Compute"/> on its validation predictions every epoch.
/// </summary>
/// <remarks>
/// A group (or class) with no rows has no accuracy: its entry is <see cref="double.NaN"/> and it takes no
/// part in the worst-group, mean-group and worst-class summaries. Ties go to the lowest index.
/// </remarks>
internal sealed class GroupAccuracySummary
{
    private readonly int[] groupClassRows;
    private readonly int[] groupClassCorrect;

    private GroupAccuracySummary(IReadOnlyList<string> groupNames, int classCount, int[] groupRows, int[] groupCorrect,
        int[] groupClassRows, int[] groupClassCorrect)
    {
        GroupNames = groupNames;
        ClassCount = classCount;
        GroupRowCounts = groupRows;
        GroupCorrectCounts = groupCorrect;
        this.groupClassRows = groupClassRows;
        this.groupClassCorrect = groupClassCorrect;

        var groupAccuracies = new double[groupRows.Length];
        for (int g = 0; g < groupRows.Length; g++) groupAccuracies[g] = Ratio(groupCorrect[g], groupRows[g]);
        GroupAccuracies = groupAccuracies;

        var classRows = new int[classCount];
        var classCorrect = new int[classCount];
        for (int g = 0; g < groupRows.Length; g++)
            for (int c = 0; c < classCount; c++)
            {
                classRows[c] += groupClassRows[g * classCount + c];
                classCorrect[c] += groupClassCorrect[g * classCount + c];
            }
        var classAccuracies = new double[classCount];
        for (int c = 0; c < classCount; c++) classAccuracies[c] = Ratio(classCorrect[c], classRows[c]);
        ClassRowCounts = classRows;
        ClassAccuracies = classAccuracies;

        RowCount = groupRows.Sum();
        CorrectCount = groupCorrect.Sum();
        AverageAccuracy = (double)CorrectCount / RowCount;
        (WorstGroup, WorstGroupAccuracy) = Minimum(groupAccuracies);
        (WorstClass, WorstClassAccuracy) = Minimum(classAccuracies);
        MeanGroupAccuracy = groupAccuracies.Where(a => !double.IsNaN(a)).Average();
    }

    /// <summary>The group names, indexed by group.</summary>
    public IReadOnlyList<string> GroupNames { get; }

    /// <summary>The number of classes; labels and predictions lie in [0, <see cref="ClassCount"/>).</summary>
    public int ClassCount { get; }

    /// <summary>Rows in all.</summary>
    public int RowCount { get; }

    /// <summary>Correctly predicted rows in all.</summary>
    public int CorrectCount { get; }

    /// <summary>Rows per group (0 for a group with no rows).</summary>
    public IReadOnlyList<int> GroupRowCounts { get; }

    /// <summary>Correctly predicted rows per group.</summary>
    public IReadOnlyList<int> GroupCorrectCounts { get; }

    /// <summary>Accuracy per group, in [0, 1]; <see cref="double.NaN"/> for a group with no rows.</summary>
    public IReadOnlyList<double> GroupAccuracies { get; }

    /// <summary>Rows per class (label), over all groups.</summary>
    public IReadOnlyList<int> ClassRowCounts { get; }

    /// <summary>Accuracy of the rows of each class (its recall), over all groups; <see cref="double.NaN"/> for a class with no rows.</summary>
    public IReadOnlyList<double> ClassAccuracies { get; }

    /// <summary>The index of the group with the lowest accuracy among groups with rows.</summary>
    public int WorstGroup { get; }

    /// <summary>The lowest group accuracy, in [0, 1].</summary>
    public double WorstGroupAccuracy { get; }

    /// <summary>Unweighted mean of the accuracies of the groups with rows, in [0, 1].</summary>
    public double MeanGroupAccuracy { get; }

    /// <summary>Plain accuracy over all rows, in [0, 1].</summary>
    public double AverageAccuracy { get; }

    /// <summary>The index of the class with the lowest accuracy among classes with rows.</summary>
    public int WorstClass { get; }

    /// <summary>The lowest class accuracy, in [0, 1].</summary>
    public double WorstClassAccuracy { get; }

    /// <summary>Whether group <paramref name="group"/> has rows.</summary>
    public bool HasRows(int group) => GroupRowCounts[group] > 0;

    /// <summary>Rows of group <paramref name="group"/> whose label is <paramref name="label"/>.</summary>
    public int GroupClassRowCount(int group, int label) => groupClassRows[group * ClassCount + label];

    /// <summary>Accuracy of the rows of group <paramref name="group"/> whose label is <paramref name="label"/>;
    /// <see cref="double.NaN"/> when the group has no row of that class.</summary>
    public double GroupClassAccuracy(int group, int label)
        => Ratio(groupClassCorrect[group * ClassCount + label], groupClassRows[group * ClassCount + label]);

    /// <summary>
    /// Group accuracies averaged with weights <paramref name="weights"/> (one per group, renormalised to sum 1).
    /// </summary>
    /// <param name="weights">One weight per group, finite and ≥ 0, not all 0; a group with no rows must have weight 0.</param>
    /// <exception cref="ArgumentException">Wrong length, a negative or non-finite weight, all weights 0, or a
    /// positive weight on a group with no rows; the message names the group.</exception>
    public double WeightedAccuracy(ReadOnlySpan<double> weights)
    {
        if (weights.Length != GroupNames.Count)
            throw new ArgumentException($"Expected {GroupNames.Count} group weights (one per group), got {weights.Length}.", nameof(weights));
        double sum = 0, weighted = 0;
        for (int g = 0; g < weights.Length; g++)
        {
            double w = weights[g];
            if (!double.IsFinite(w) || w < 0)
                throw new ArgumentException($"The weight of group '{GroupNames[g]}' must be finite and >= 0, got {w}.", nameof(weights));
            if (w == 0) continue;
            if (!HasRows(g))
                throw new ArgumentException($"Group '{GroupNames[g]}' has a weight but no rows: its accuracy is undefined.", nameof(weights));
            sum += w;
            weighted += w * GroupAccuracies[g];
        }
        if (sum <= 0) throw new ArgumentException("The group weights must not all be 0.", nameof(weights));
        return weighted / sum;
    }

    /// <summary>
    /// Counts correct predictions per group and per (group, class) in one pass.
    /// </summary>
    /// <param name="labels">Per row, the true class in [0, <paramref name="classCount"/>).</param>
    /// <param name="predictions">Per row, the predicted class in [0, <paramref name="classCount"/>).</param>
    /// <param name="groups">Per row, the group in [0, <paramref name="groupNames"/>.Count).</param>
    /// <param name="groupNames">One name per group; groups may have no rows.</param>
    /// <param name="classCount">The number of classes, ≥ 1.</param>
    /// <exception cref="ArgumentException">The spans differ in length or are empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A label, prediction or group is out of range; the message names the row.</exception>
    public static GroupAccuracySummary Compute(ReadOnlySpan<int> labels, ReadOnlySpan<int> predictions, ReadOnlySpan<int> groups,
        IReadOnlyList<string> groupNames, int classCount)
    {
        ArgumentNullException.ThrowIfNull(groupNames);
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 1);
        if (groupNames.Count == 0) throw new ArgumentException("At least one group name is needed.", nameof(groupNames));
        if (predictions.Length != labels.Length || groups.Length != labels.Length)
            throw new ArgumentException($"Labels ({labels.Length}), predictions ({predictions.Length}) and groups ({groups.Length}) must have the same length.");
        if (labels.Length == 0) throw new ArgumentException("There are no rows: accuracy is undefined.", nameof(labels));

        int groupCount = groupNames.Count;
        var groupRows = new int[groupCount];
        var groupCorrect = new int[groupCount];
        var cellRows = new int[groupCount * classCount];
        var cellCorrect = new int[groupCount * classCount];
        for (int i = 0; i < labels.Length; i++)
        {
            int label = labels[i], predicted = predictions[i], group = groups[i];
            if ((uint)label >= (uint)classCount)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Row {i} has label {label}, outside [0, {classCount}).");
            if ((uint)predicted >= (uint)classCount)
                throw new ArgumentOutOfRangeException(nameof(predictions), $"Row {i} has prediction {predicted}, outside [0, {classCount}).");
            if ((uint)group >= (uint)groupCount)
                throw new ArgumentOutOfRangeException(nameof(groups), $"Row {i} has group {group}, outside [0, {groupCount}).");
            int correct = label == predicted ? 1 : 0;
            groupRows[group]++;
            groupCorrect[group] += correct;
            cellRows[group * classCount + label]++;
            cellCorrect[group * classCount + label] += correct;
        }
        return new GroupAccuracySummary(groupNames, classCount, groupRows, groupCorrect, cellRows, cellCorrect);
    }

    private static double Ratio(int correct, int rows) => rows == 0 ? double.NaN : (double)correct / rows;

    private static (int Index, double Value) Minimum(double[] values)
    {
        int best = -1;
        for (int i = 0; i < values.Length; i++)
            if (!double.IsNaN(values[i]) && (best < 0 || values[i] < values[best])) best = i;
        return (best, values[best]);
    }
}
