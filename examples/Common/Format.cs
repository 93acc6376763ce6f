using System.Globalization;

namespace MLNet.FlatDebias.Examples;

/// <summary>How the examples print numbers (invariant culture, so the output is the same everywhere).</summary>
public static class Format
{
    /// <summary>An accuracy in [0, 1] as a percentage with two decimals, or <c>-</c>.</summary>
    public static string Percent(double? value) => value is double v && double.IsFinite(v) ? (100 * v).ToString("F2", CultureInfo.InvariantCulture) : "-";

    /// <summary>A setting such as a quantile or a share: up to three decimals.</summary>
    public static string Setting(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>A measured quantity with three significant digits, or <c>-</c>.</summary>
    public static string Number(double? value) => value is double v && double.IsFinite(v) ? v.ToString("G3", CultureInfo.InvariantCulture) : "-";

    /// <summary>The ratio of two values with one decimal, or <c>-</c>.</summary>
    public static string Ratio(double numerator, double denominator)
        => double.IsFinite(numerator / denominator) ? (numerator / denominator).ToString("F1", CultureInfo.InvariantCulture) : "-";

    /// <summary>An integer.</summary>
    public static string Count(int value) => value.ToString(CultureInfo.InvariantCulture);
}
