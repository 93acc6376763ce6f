using System.Globalization;
using System.Text;

namespace MLNet.FlatDebias.Metrics;

/// <summary>Renders <see cref="GroupMetrics"/> as a fixed-width text table, one row per group.</summary>
internal static class GroupTableFormatter
{
    private const string AccuracyFormat = "F4";
    private const string Gap = "  ";
    private const string PerClassOpen = "  (per class: ";
    private const string Absent = "-";

    /// <summary>The table: a header, one row per group, a row per group without rows, and the summaries.</summary>
    public static string Format(GroupMetrics metrics)
    {
        var classes = metrics.ClassNames;
        int nameWidth = Math.Max("Group".Length, metrics.ByGroup.Select(g => g.Name.Length).Concat(metrics.GroupsWithoutRows.Select(n => n.Length)).DefaultIfEmpty(0).Max());
        int rowsWidth = Math.Max("Rows".Length, metrics.ByGroup.Max(g => g.RowCount.ToString(CultureInfo.InvariantCulture).Length));
        int accuracyWidth = "Accuracy".Length;
        var classWidths = classes.Select(c => Math.Max(c.Length, "0.0000".Length)).ToArray();

        var text = new StringBuilder();
        text.Append("Group".PadRight(nameWidth)).Append(Gap).Append("Rows".PadLeft(rowsWidth)).Append(Gap).Append("Accuracy")
            .Append(PerClassOpen);
        for (int c = 0; c < classes.Count; c++)
            text.Append(c == 0 ? "" : Gap).Append(classes[c].PadLeft(classWidths[c]));
        text.AppendLine(")");

        foreach (var group in metrics.ByGroup)
        {
            text.Append(group.Name.PadRight(nameWidth)).Append(Gap)
                .Append(group.RowCount.ToString(CultureInfo.InvariantCulture).PadLeft(rowsWidth)).Append(Gap)
                .Append(Number(group.Accuracy).PadLeft(accuracyWidth))
                .Append(' ', PerClassOpen.Length);
            for (int c = 0; c < classes.Count; c++)
            {
                var cell = group.PerClassAccuracy.TryGetValue(classes[c], out double a) ? Number(a) : Absent;
                text.Append(c == 0 ? "" : Gap).Append(cell.PadLeft(classWidths[c]));
            }
            text.AppendLine();
        }
        foreach (var name in metrics.GroupsWithoutRows)
            text.Append(name.PadRight(nameWidth)).Append(Gap).Append("0".PadLeft(rowsWidth)).Append(Gap)
                .Append(Absent.PadLeft(accuracyWidth)).AppendLine("  (no rows: not in the summaries)");

        text.Append("Worst group: ").Append(metrics.WorstGroup).Append(" (").Append(Number(metrics.WorstGroupAccuracy)).Append(')')
            .Append("   Mean group accuracy: ").Append(Number(metrics.MeanGroupAccuracy))
            .Append("   Average accuracy: ").Append(Number(metrics.AverageAccuracy))
            .Append("   Adjusted average: ").Append(metrics.AdjustedAverageAccuracy is double adjusted ? Number(adjusted) : "- (no group weights)")
            .AppendLine();
        text.Append("Worst class: ").Append(metrics.WorstClass).Append(" (").Append(Number(metrics.WorstClassAccuracy)).AppendLine(")");
        return text.ToString();
    }

    private static string Number(double value) => value.ToString(AccuracyFormat, CultureInfo.InvariantCulture);
}
