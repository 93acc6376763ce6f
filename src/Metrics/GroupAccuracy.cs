using System.Globalization;

namespace MLNet.FlatDebias.Metrics;

/// <summary>One group's row of <see cref="GroupMetrics.ByGroup"/>: its size, accuracy and per-class accuracies.</summary>
public sealed class GroupAccuracy
{
    internal GroupAccuracy(string name, int rowCount, int correctCount, IReadOnlyDictionary<string, double> perClassAccuracy)
    {
        Name = name;
        RowCount = rowCount;
        CorrectCount = correctCount;
        PerClassAccuracy = perClassAccuracy;
    }

    /// <summary>The group's name: the group value as text (see <see cref="GroupMetrics.ByGroup"/> for how values are named).</summary>
    public string Name { get; }

    /// <summary>Rows in the group; always ≥ 1 (groups with no rows are listed in <see cref="GroupMetrics.GroupsWithoutRows"/>).</summary>
    public int RowCount { get; }

    /// <summary>Rows of the group whose predicted label equals the label; in [0, <see cref="RowCount"/>].</summary>
    public int CorrectCount { get; }

    /// <summary>The group's accuracy, <see cref="CorrectCount"/> / <see cref="RowCount"/>, in [0, 1].</summary>
    public double Accuracy => (double)CorrectCount / RowCount;

    /// <summary>
    /// Class name → accuracy of the group's rows with that label (the class's recall within the group), in
    /// [0, 1], in class order. A class with no row in the group is absent, never reported as 0 or 1.
    /// </summary>
    public IReadOnlyDictionary<string, double> PerClassAccuracy { get; }

    /// <summary>The group, its accuracy and its size, e.g. <c>waterbird/land: 0.6012 (642 rows)</c>.</summary>
    public override string ToString()
        => string.Create(CultureInfo.InvariantCulture, $"{Name}: {Accuracy:F4} ({RowCount} rows)");
}
