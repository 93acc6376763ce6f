using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace MLNet.FlatDebias.Examples;

/// <summary>One named series of values for a chart.</summary>
/// <param name="Name">The legend entry.</param>
/// <param name="Values">The values (bars: one per category; histograms: the samples).</param>
/// <param name="Errors">Horizontal bars only: the error bar's half-width per category (NaN: none), or null for none.</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values, IReadOnlyList<double>? Errors = null);

/// <summary>One line of a line chart.</summary>
/// <param name="Name">The legend entry.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values, one per X (NaN: no point).</param>
/// <param name="Highlight">An index whose point is drawn larger (e.g. the selected epoch), or null.</param>
public sealed record ChartLine(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y, int? Highlight = null);

/// <summary>One panel of a histogram figure: its title and the samples of each series.</summary>
/// <param name="Title">The panel title.</param>
/// <param name="Series">The samples per series, drawn over each other as densities.</param>
public sealed record HistogramPanel(string Title, IReadOnlyList<ChartSeries> Series);

/// <summary>
/// The charts of the examples, drawn with ScottPlot 5 and written as PNG: grouped bars, horizontal bars with error bars,
/// lines, and side-by-side panels of overlaid histograms. Every chart has a white background, the colour-blind-safe
/// Okabe-Ito hues in the same order, and its legend under the plot. ScottPlot draws on SkiaSharp 3, the version
/// Microsoft.ML.ImageAnalytics 6 reads images with, so a program can draw charts and load images in one process.
/// </summary>
public static class Charts
{
    private const int Width = 1000;
    private const int Height = 560;

    /// <summary>Series colours, in order (Okabe-Ito: blue, orange, green, pink, sky blue, vermilion, yellow, black).</summary>
    private static readonly Color[] Palette =
        Color.FromHex(["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]);

    /// <summary>DejaVu Sans where installed: ScottPlot's own sans-serif choice is a serif face on some Linux machines.</summary>
    private static readonly Lazy<string> FontName = new(() =>
        Fonts.GetTypeface("DejaVu Sans", bold: false, italic: false) is { FamilyName: "DejaVu Sans" } ? "DejaVu Sans" : Fonts.Sans);

    /// <summary>Grouped bars: one group per category, one bar per series, the value printed above each bar (when the
    /// bars are wide enough). Many categories widen the chart and slant their labels.</summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="yLabel">The y axis label.</param>
    /// <param name="categories">The categories along x.</param>
    /// <param name="series">One series per bar colour, one value per category (NaN: no bar).</param>
    /// <param name="yMax">Top of the y axis (bottom is 0).</param>
    public static void Bars(string path, string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, double yMax = 1)
    {
        bool crowded = categories.Count > 8;
        int width = crowded ? Math.Max(Width, 56 * categories.Count + 120) : Width;
        using var plot = NewPlot(title, "", yLabel);
        double slot = 0.8 / Math.Max(1, series.Count);
        // A value is printed over its bar when the bar is at least 24 pixels wide (the data area is the figure less about 110).
        bool printValues = (width - 110.0) / Math.Max(1, categories.Count) * slot >= 24;
        for (int s = 0; s < series.Count; s++)
        {
            var bars = new List<Bar>();
            for (int c = 0; c < categories.Count; c++)
            {
                double v = series[s].Values[c];
                if (double.IsNaN(v)) continue;
                bars.Add(new Bar
                {
                    Position = c - 0.4 + slot * (s + 0.5), Value = v, Size = slot * 0.94, FillColor = Hue(s), LineWidth = 0,
                    Label = printValues ? v.ToString("F2", CultureInfo.InvariantCulture) : "",
                });
            }
            var plottable = plot.Add.Bars(bars);
            plottable.ValueLabelStyle.FontName = FontName.Value;
            plottable.ValueLabelStyle.FontSize = 11;
        }
        CategoryTicks(plot.Axes.Bottom, [.. Enumerable.Range(0, categories.Count).Select(c => (double)c)], categories);
        if (crowded) Slant(plot.Axes.Bottom, categories);
        plot.Grid.XAxisStyle.IsVisible = false;
        // Room above the top of the axis for the printed values.
        plot.Axes.SetLimits(-0.55, categories.Count - 0.45, 0, yMax * 1.07);
        LegendBelow(plot, series.Select((s, i) => Box(s.Name, Hue(i))));
        plot.SavePng(path, width, crowded ? Height + 70 : Height);
    }

    /// <summary>Horizontal bars with error bars: one group per category (the first at the top), one bar per series, each
    /// with its error bar (e.g. the seeds' standard deviation).</summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="xLabel">The x axis label.</param>
    /// <param name="categories">The categories, top to bottom.</param>
    /// <param name="series">One series per bar colour, one value per category (NaN: no bar), with their
    /// <see cref="ChartSeries.Errors"/>.</param>
    /// <param name="xMax">Right end of the x axis (left is 0).</param>
    public static void HorizontalBars(string path, string title, string xLabel, IReadOnlyList<string> categories, IReadOnlyList<ChartSeries> series, double xMax = 1)
    {
        using var plot = NewPlot(title, xLabel, "");
        double slot = 0.8 / Math.Max(1, series.Count);
        double Row(int c) => categories.Count - 1 - c;
        for (int s = 0; s < series.Count; s++)
        {
            var bars = new List<Bar>();
            for (int c = 0; c < categories.Count; c++)
            {
                double v = series[s].Values[c];
                if (double.IsNaN(v)) continue;
                double error = series[s].Errors is { } errors && double.IsFinite(errors[c]) ? errors[c] : 0;
                bars.Add(new Bar
                {
                    // The error bar is drawn with the bar's outline: thin and black.
                    Position = Row(c) + 0.4 - slot * (s + 0.5), Value = v, Size = slot * 0.94, FillColor = Hue(s), LineWidth = 1.2f, LineColor = Colors.Black,
                    Error = error, ErrorSize = 0.3, ErrorPositive = error > 0, ErrorNegative = error > 0,
                });
            }
            plot.Add.Bars(bars).Horizontal = true;
            // The mean, printed past the error bar (a bar at 0 is then still seen).
            foreach (var bar in bars)
            {
                var value = plot.Add.Text(bar.Value.ToString("F2", CultureInfo.InvariantCulture), bar.Value + bar.Error, bar.Position);
                value.LabelFontName = FontName.Value;
                value.LabelFontSize = 11;
                value.LabelAlignment = Alignment.MiddleLeft;
                value.LabelOffsetX = 4;
            }
        }
        CategoryTicks(plot.Axes.Left, [.. Enumerable.Range(0, categories.Count).Select(Row)], categories);
        plot.Axes.Bottom.TickGenerator = new NumericFixedInterval(xMax / 10);
        plot.Grid.YAxisStyle.IsVisible = false;
        // Room right of the axis's end for the printed means.
        plot.Axes.SetLimits(0, xMax * 1.08, -0.55, categories.Count - 0.45);
        LegendBelow(plot, series.Select((s, i) => Box(s.Name, Hue(i))));
        plot.SavePng(path, 900, 150 + 60 * categories.Count);
    }

    /// <summary>Lines with markers, y on [<paramref name="yMin"/>, <paramref name="yMax"/>], x ticks on whole numbers.</summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="xLabel">The x axis label.</param>
    /// <param name="yLabel">The y axis label.</param>
    /// <param name="lines">The lines; a NaN point is left out and breaks the line.</param>
    /// <param name="yMin">Bottom of the y axis.</param>
    /// <param name="yMax">Top of the y axis.</param>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartLine> lines, double yMin = 0, double yMax = 1)
    {
        using var plot = NewPlot(title, xLabel, yLabel);
        var legend = new List<LegendItem>();
        for (int l = 0; l < lines.Count; l++)
        {
            var (line, color) = (lines[l], Hue(l));
            foreach (var (xs, ys) in Segments(line))
            {
                var scatter = plot.Add.Scatter(xs, ys, color);
                scatter.LineWidth = 2.5f;
                scatter.MarkerSize = 7;
            }
            if (line.Highlight is int h && h >= 0 && h < line.Y.Count && !double.IsNaN(line.Y[h]))
                SelectedMarker(plot.Add.Marker(line.X[h], line.Y[h], MarkerShape.FilledCircle, 15, color).MarkerStyle);
            legend.Add(new LegendItem
            {
                LabelText = line.Name, LineColor = color, LineWidth = 2.5f, MarkerShape = MarkerShape.FilledCircle, MarkerSize = 7, MarkerFillColor = color,
            });
        }
        if (lines.Any(l => l.Highlight is not null))
        {
            var selected = new LegendItem { LabelText = "large marker: the selected epoch", LineWidth = 0, MarkerShape = MarkerShape.FilledCircle, MarkerSize = 15 };
            SelectedMarker(selected.MarkerStyle);
            selected.MarkerFillColor = Colors.LightGray;
            legend.Add(selected);
        }

        var all = lines.SelectMany(l => l.X).ToList();
        double xMin = all.Count == 0 ? 0 : all.Min(), xMax = all.Count == 0 ? 1 : all.Max();
        if (xMax <= xMin) xMax = xMin + 1;
        plot.Axes.Bottom.TickGenerator = new NumericAutomatic { IntegerTicksOnly = true };
        plot.Axes.Bottom.MinorTickStyle.Length = 0;
        // A little room beyond the ends, so the markers there are drawn whole.
        double xPad = 0.02 * (xMax - xMin), yPad = 0.02 * (yMax - yMin);
        plot.Axes.SetLimits(xMin - xPad, xMax + xPad, yMin - yPad, yMax + yPad);
        LegendBelow(plot, legend);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>
    /// Side-by-side panels of overlaid histograms (each series normalised to a density, so groups of different sizes
    /// compare), on a log10 x axis when the positive samples span more than two decades, with shared bins. Each panel
    /// has its title and the count of each series.
    /// </summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The figure title.</param>
    /// <param name="xLabel">The x axis label (the quantity).</param>
    /// <param name="panels">The panels, left to right.</param>
    /// <param name="bins">Number of bins.</param>
    public static void Histograms(string path, string title, string xLabel, IReadOnlyList<HistogramPanel> panels, int bins = 40)
    {
        var all = panels.SelectMany(p => p.Series).SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        var positive = all.Where(v => v > 0).ToList();
        bool log = positive.Count > 0 && positive.Count == all.Count && positive.Max() / positive.Min() > 100;
        double Map(double v) => log ? Math.Log10(v) : v;
        double lo = all.Count == 0 ? 0 : all.Min(Map), hi = all.Count == 0 ? 1 : all.Max(Map);
        if (hi <= lo) hi = lo + 1;

        int width = Math.Max(Width, 330 * panels.Count + 110);
        var figure = new Multiplot(TextStrip(title));
        figure.AddPlot(LegendStrip(panels.FirstOrDefault()?.Series.Select((s, i) => Box(s.Name, Hue(i))) ?? []));
        for (int p = 0; p < panels.Count; p++)
        {
            var plot = NewPlot(panels[p].Title, log ? $"{xLabel} (log scale)" : xLabel, p == 0 ? "density (share of the group per bin)" : "", titleSize: 14);
            var densities = panels[p].Series.Select(s => Density([.. s.Values.Where(double.IsFinite).Select(Map)], lo, hi, bins)).ToList();
            // Headroom above the highest bin for the counts, one line per series.
            double top = Math.Max(1e-12, densities.SelectMany(d => d).DefaultIfEmpty(0).Max()) * (1.06 + 0.07 * densities.Count);
            for (int s = 0; s < densities.Count; s++) Steps(plot, densities[s], lo, hi, Hue(s));
            var counts = plot.Add.Text(string.Join("\n", panels[p].Series.Select(s => $"{s.Name}: n={s.Values.Count}")), (lo + hi) / 2, top);
            counts.LabelFontName = FontName.Value;
            counts.LabelFontSize = 11;
            counts.LabelAlignment = Alignment.UpperCenter;
            counts.LabelOffsetY = 4;
            plot.Axes.Left.TickGenerator = new NumericAutomatic { TargetTickCount = 6 };
            if (log) plot.Axes.Bottom.TickGenerator = DecadeTicks(lo, hi, (double)width / panels.Count - 100);
            plot.Axes.SetLimits(lo, hi, 0, top);
            figure.AddPlot(plot);
        }
        figure.Layout = new TitledColumns(TitleStrip: 46, LegendStrip: 36);
        figure.SavePng(path, width, Height);
        foreach (var plot in figure.GetPlots()) plot.Dispose();
    }

    /// <summary>The figure's title in a strip at the top, its legend in a strip at the bottom, and the panels side by side
    /// between (subplot 0: the title, 1: the legend, then the panels).</summary>
    private sealed record TitledColumns(float TitleStrip, float LegendStrip) : IMultiplotLayout
    {
        public PixelRect[] GetSubplotRectangles(SubplotCollection subplots, PixelRect figureRect)
        {
            int panels = Math.Max(1, subplots.Count - 2);
            float top = figureRect.Top + TitleStrip, bottom = figureRect.Bottom - LegendStrip, width = figureRect.Width / panels;
            return
            [
                new PixelRect(figureRect.Left, figureRect.Right, top, figureRect.Top),
                new PixelRect(figureRect.Left, figureRect.Right, figureRect.Bottom, bottom),
                .. Enumerable.Range(0, subplots.Count - 2).Select(p => new PixelRect(figureRect.Left + p * width, figureRect.Left + (p + 1) * width, bottom, top)),
            ];
        }
    }

    /// <summary>Colour <paramref name="index"/> of the palette, cycling.</summary>
    private static Color Hue(int index) => Palette[index % Palette.Length];

    /// <summary>A plot with a white background, the examples' font, a title and axis labels.</summary>
    private static Plot NewPlot(string title, string xLabel, string yLabel, float titleSize = 18)
    {
        var plot = new Plot();
        plot.FigureBackground.Color = Colors.White;
        plot.DataBackground.Color = Colors.White;
        plot.Title(title, titleSize);
        plot.XLabel(xLabel, 14);
        plot.YLabel(yLabel, 14);
        // Each label's font by name: Font.Set would fix one typeface and drop the title's bold.
        foreach (var label in new[] { plot.Axes.Title.Label, plot.Axes.Bottom.Label, plot.Axes.Left.Label, plot.Axes.Bottom.TickLabelStyle, plot.Axes.Left.TickLabelStyle })
            label.FontName = FontName.Value;
        plot.Axes.Bottom.Label.Bold = false;
        plot.Axes.Left.Label.Bold = false;
        return plot;
    }

    /// <summary>A borderless plot holding one line of bold text in its middle (a figure title above panels).</summary>
    private static Plot TextStrip(string text)
    {
        var plot = new Plot();
        plot.FigureBackground.Color = Colors.White;
        plot.Layout.Frameless();
        plot.HideAxesAndGrid();
        var label = plot.Add.Text(text, 0, 0);
        label.LabelFontName = FontName.Value;
        label.LabelFontSize = 18;
        label.LabelBold = true;
        label.LabelAlignment = Alignment.MiddleCenter;
        plot.Axes.SetLimits(-1, 1, -1, 1);
        return plot;
    }

    /// <summary>A borderless plot holding only a legend, in one row (a legend shared by panels).</summary>
    private static Plot LegendStrip(IEnumerable<LegendItem> items)
    {
        var plot = new Plot();
        plot.FigureBackground.Color = Colors.White;
        plot.Layout.Frameless();
        plot.HideAxesAndGrid();
        plot.Legend.ManualItems.AddRange(items);
        plot.ShowLegend(Alignment.MiddleCenter, Orientation.Horizontal);
        StyleLegend(plot.Legend);
        return plot;
    }

    /// <summary>The legend in one row under the plot.</summary>
    private static void LegendBelow(Plot plot, IEnumerable<LegendItem> items)
    {
        plot.Legend.ManualItems.AddRange(items);
        plot.ShowLegend(Edge.Bottom);
        StyleLegend(plot.Legend);
    }

    private static void StyleLegend(Legend legend)
    {
        legend.FontName = FontName.Value;
        legend.FontSize = 13;
        legend.OutlineWidth = 0;
        legend.BackgroundColor = Colors.White;
        legend.ShadowColor = Colors.Transparent;
        legend.TightHorizontalWrapping = true;
    }

    /// <summary>A legend entry drawn as a filled square.</summary>
    private static LegendItem Box(string name, Color color) => new() { LabelText = name, FillColor = color, LineWidth = 0 };

    /// <summary>The selected point's marker: large, with a black ring.</summary>
    private static void SelectedMarker(MarkerStyle marker)
    {
        marker.OutlineColor = Colors.Black;
        marker.OutlineWidth = 1.5f;
    }

    /// <summary>Category names under (or beside) the given positions, without the axis's own numeric ticks.</summary>
    private static void CategoryTicks(IAxis axis, double[] positions, IReadOnlyList<string> categories)
    {
        axis.SetTicks(positions, [.. categories]);
        axis.TickLabelStyle.FontName = FontName.Value;
        axis.TickLabelStyle.FontSize = 13;
        axis.MajorTickStyle.Length = 0;
    }

    /// <summary>Slants the category labels by 40 degrees, each ending under its group, and makes room for them.</summary>
    private static void Slant(IXAxis axis, IReadOnlyList<string> categories)
    {
        axis.TickLabelStyle.Rotation = -40;
        axis.TickLabelStyle.FontSize = 12;
        axis.TickLabelStyle.Alignment = Alignment.UpperRight;
        using var paint = Paint.NewDisposablePaint();
        float longest = categories.Select(c => axis.TickLabelStyle.Measure(c, paint).Size.Width).DefaultIfEmpty(0).Max();
        axis.MinimumSize = longest * (float)Math.Sin(40 * Math.PI / 180) + 30;
    }

    /// <summary>The runs of a line between its NaN points.</summary>
    private static IEnumerable<(double[] X, double[] Y)> Segments(ChartLine line)
    {
        var xs = new List<double>();
        var ys = new List<double>();
        for (int i = 0; i <= line.X.Count; i++)
        {
            if (i < line.X.Count && !double.IsNaN(line.Y[i]))
            {
                xs.Add(line.X[i]);
                ys.Add(line.Y[i]);
                continue;
            }
            if (xs.Count > 0) yield return ([.. xs], [.. ys]);
            xs.Clear();
            ys.Clear();
        }
    }

    /// <summary>One density as a filled step outline over equal bins on [<paramref name="lo"/>, <paramref name="hi"/>].</summary>
    private static void Steps(Plot plot, double[] density, double lo, double hi, Color color)
    {
        double binWidth = (hi - lo) / density.Length;
        var xs = new List<double> { lo };
        var ys = new List<double> { 0 };
        for (int b = 0; b < density.Length; b++)
        {
            xs.AddRange([lo + b * binWidth, lo + (b + 1) * binWidth]);
            ys.AddRange([density[b], density[b]]);
        }
        xs.Add(hi);
        ys.Add(0);
        var outline = plot.Add.Scatter(xs.ToArray(), ys.ToArray(), color);
        outline.LineWidth = 2;
        outline.MarkerSize = 0;
        outline.FillY = true;
        outline.FillYValue = 0;
        outline.FillYColor = color.WithAlpha(90);
    }

    /// <summary>Ticks for a log10 axis over [<paramref name="lo"/>, <paramref name="hi"/>] (in decades): whole decades
    /// labelled as people write them, every decade or every 2, 3, 5, 10... so that labels are at least 40 pixels apart, with minor
    /// ticks at the unlabelled decades (or at 2..9 times each decade when every decade is labelled).</summary>
    private static NumericManual DecadeTicks(double lo, double hi, double pixels)
    {
        int needed = (int)Math.Ceiling((hi - lo) / Math.Max(1, pixels / 40));
        int step = new[] { 1, 2, 3, 5, 10, 20, 50 }.FirstOrDefault(s => s >= needed, needed);
        var ticks = new NumericManual();
        for (int k = (int)Math.Floor(lo); k <= (int)Math.Ceiling(hi); k++)
        {
            if (k >= lo && k <= hi)
            {
                if (k % step == 0) ticks.AddMajor(k, Decade(k));
                else ticks.AddMinor(k);
            }
            if (step > 1) continue;
            for (int m = 2; m <= 9; m++)
                if (k + Math.Log10(m) is var v && v >= lo && v <= hi) ticks.AddMinor(v);
        }
        return ticks;
    }

    /// <summary>10^k as people write it: 0.01, 0.1, 1, 10, 100, 1000, else 1e-5, 1e4.</summary>
    private static string Decade(int k) => k is >= -2 and <= 3
        ? Math.Pow(10, k).ToString("0.##", CultureInfo.InvariantCulture)
        : "1e" + k.ToString(CultureInfo.InvariantCulture);

    private static double[] Density(IReadOnlyList<double> values, double lo, double hi, int bins)
    {
        var counts = new double[bins];
        foreach (var v in values) counts[Math.Clamp((int)((v - lo) / (hi - lo) * bins), 0, bins - 1)]++;
        if (values.Count > 0) for (int b = 0; b < bins; b++) counts[b] /= values.Count;
        return counts;
    }
}
