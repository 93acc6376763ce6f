using System.Globalization;
using SkiaSharp;

namespace MLNet.FlatDebias.Examples;

/// <summary>One named series of values for a chart.</summary>
/// <param name="Name">The legend entry.</param>
/// <param name="Values">The values (bars: one per category; histograms: the samples).</param>
public sealed record ChartSeries(string Name, IReadOnlyList<double> Values);

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
/// The three charts of the examples, drawn with SkiaSharp 2.88.9 and written as PNG: grouped bars, lines, and
/// overlaid histograms. SkiaSharp is drawn on directly because ScottPlot 5 needs SkiaSharp 3, and with SkiaSharp 3 in
/// the process Microsoft.ML.ImageAnalytics 5.0.1 fails to read pixels (<c>MissingMethodException</c> on
/// <c>SKBitmap.GetPixelSpan</c>).
/// </summary>
public static class Charts
{
    private const int Width = 1000;
    private const int Height = 560;
    private const float MarginLeft = 80, MarginRight = 30, MarginTop = 60, MarginBottom = 90;

    /// <summary>Series colours, in order (colour-blind-safe Okabe-Ito hues).</summary>
    private static readonly SKColor[] Palette =
    [
        new(0, 114, 178), new(230, 159, 0), new(0, 158, 115), new(204, 121, 167), new(86, 180, 233), new(213, 94, 0), new(240, 228, 66), new(0, 0, 0),
    ];

    private static readonly Lazy<SKTypeface> Typeface = new(() =>
        SKTypeface.FromFamilyName("DejaVu Sans") is { } t && t.FamilyName.Contains("Sans", StringComparison.Ordinal) ? t : SKTypeface.Default);

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
        using var surface = crowded
            ? new Surface(title, Math.Max(Width, 56 * categories.Count + 120), Height + 70, MarginBottom + 70)
            : new Surface(title);
        var plot = surface.PlotArea;
        surface.YAxis(plot, 0, yMax, yLabel, ticks: 5);
        float groupWidth = plot.Width / categories.Count;
        float barWidth = groupWidth * 0.8f / series.Count;
        for (int c = 0; c < categories.Count; c++)
        {
            float groupLeft = plot.Left + c * groupWidth + groupWidth * 0.1f;
            for (int s = 0; s < series.Count; s++)
            {
                double v = series[s].Values[c];
                if (double.IsNaN(v)) continue;
                float top = plot.Bottom - (float)(Math.Clamp(v / yMax, 0, 1) * plot.Height);
                var bar = new SKRect(groupLeft + s * barWidth + 1, top, groupLeft + (s + 1) * barWidth - 1, plot.Bottom);
                surface.Fill(bar, Palette[s % Palette.Length]);
                if (barWidth >= 24) surface.Text(v.ToString("F2", CultureInfo.InvariantCulture), bar.MidX, top - 4, 11, SKTextAlign.Center);
            }
            if (crowded)
            {
                surface.Canvas.Save();
                surface.Canvas.RotateDegrees(-40, plot.Left + (c + 0.5f) * groupWidth, plot.Bottom + 16);
                surface.Text(categories[c], plot.Left + (c + 0.5f) * groupWidth, plot.Bottom + 16, 12, SKTextAlign.Right);
                surface.Canvas.Restore();
            }
            else
            {
                surface.Text(categories[c], plot.Left + (c + 0.5f) * groupWidth, plot.Bottom + 20, 13, SKTextAlign.Center);
            }
        }
        surface.Legend([.. series.Select(s => s.Name)], lines: false);
        surface.Save(path);
    }

    /// <summary>Lines with markers, y on [<paramref name="yMin"/>, <paramref name="yMax"/>].</summary>
    /// <param name="path">The PNG file to write.</param>
    /// <param name="title">The chart title.</param>
    /// <param name="xLabel">The x axis label.</param>
    /// <param name="yLabel">The y axis label.</param>
    /// <param name="lines">The lines; NaN points are skipped.</param>
    /// <param name="yMin">Bottom of the y axis.</param>
    /// <param name="yMax">Top of the y axis.</param>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<ChartLine> lines, double yMin = 0, double yMax = 1)
    {
        using var surface = new Surface(title);
        var plot = surface.PlotArea;
        surface.YAxis(plot, yMin, yMax, yLabel, ticks: 5);
        var xs = lines.SelectMany(l => l.X).ToList();
        double xMin = xs.Count == 0 ? 0 : xs.Min(), xMax = xs.Count == 0 ? 1 : xs.Max();
        if (xMax <= xMin) xMax = xMin + 1;
        surface.XAxis(plot, xMin, xMax, xLabel, AxisTicks.Integers);
        float X(double x) => plot.Left + (float)((x - xMin) / (xMax - xMin)) * plot.Width;
        float Y(double y) => plot.Bottom - (float)((Math.Clamp(y, yMin, yMax) - yMin) / (yMax - yMin)) * plot.Height;
        for (int l = 0; l < lines.Count; l++)
        {
            var color = Palette[l % Palette.Length];
            var line = lines[l];
            using var stroke = new SKPaint { Color = color, StrokeWidth = 2.5f, IsAntialias = true, Style = SKPaintStyle.Stroke };
            using var path2 = new SKPath();
            bool open = false;
            for (int i = 0; i < line.X.Count; i++)
            {
                if (double.IsNaN(line.Y[i])) { open = false; continue; }
                if (open) path2.LineTo(X(line.X[i]), Y(line.Y[i]));
                else path2.MoveTo(X(line.X[i]), Y(line.Y[i]));
                open = true;
            }
            surface.Canvas.DrawPath(path2, stroke);
            for (int i = 0; i < line.X.Count; i++)
            {
                if (double.IsNaN(line.Y[i])) continue;
                float r = line.Highlight == i ? 7 : 3.5f;
                surface.Circle(X(line.X[i]), Y(line.Y[i]), r, color, ring: line.Highlight == i);
            }
        }
        surface.Legend([.. lines.Select(l => l.Name)], lines: true);
        if (lines.Any(l => l.Highlight is not null))
            surface.Text("large marker: the selected epoch", plot.Right, plot.Bottom + 62, 11, SKTextAlign.Right);
        surface.Save(path);
    }

    /// <summary>
    /// Side-by-side panels of overlaid histograms (each series normalised to a density, so groups of different sizes
    /// compare), on a log10 x axis when the positive samples span more than two decades, with shared bins.
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

        using var surface = new Surface(title, width: Math.Max(Width, 330 * panels.Count + 110));
        var area = surface.PlotArea;
        float gap = 36;
        float panelWidth = (area.Width - gap * (panels.Count - 1)) / panels.Count;
        for (int p = 0; p < panels.Count; p++)
        {
            var plot = new SKRect(area.Left + p * (panelWidth + gap), area.Top + 22, area.Left + p * (panelWidth + gap) + panelWidth, area.Bottom);
            var densities = panels[p].Series.Select(s => Density(s.Values.Where(double.IsFinite).Select(Map).ToList(), lo, hi, bins)).ToList();
            double top = Math.Max(1e-12, densities.SelectMany(d => d).DefaultIfEmpty(0).Max()) * 1.08;
            surface.YAxis(plot, 0, top, p == 0 ? "density (share of the group per bin)" : "", ticks: 4, decimals: 2, grid: true);
            surface.XAxis(plot, lo, hi, log ? $"{xLabel} (log scale)" : xLabel, log ? AxisTicks.Decades : AxisTicks.Linear);
            surface.Text(panels[p].Title, plot.MidX, plot.Top - 8, 13, SKTextAlign.Center, bold: true);
            float binWidth = plot.Width / bins;
            for (int s = 0; s < densities.Count; s++)
            {
                var color = Palette[s % Palette.Length];
                using var fill = new SKPaint { Color = color.WithAlpha(90), Style = SKPaintStyle.Fill };
                using var edge = new SKPaint { Color = color, StrokeWidth = 2, IsAntialias = true, Style = SKPaintStyle.Stroke };
                using var outline = new SKPath();
                outline.MoveTo(plot.Left, plot.Bottom);
                for (int b = 0; b < bins; b++)
                {
                    float y = plot.Bottom - (float)(densities[s][b] / top) * plot.Height;
                    surface.Canvas.DrawRect(new SKRect(plot.Left + b * binWidth, y, plot.Left + (b + 1) * binWidth, plot.Bottom), fill);
                    outline.LineTo(plot.Left + b * binWidth, y);
                    outline.LineTo(plot.Left + (b + 1) * binWidth, y);
                }
                outline.LineTo(plot.Right, plot.Bottom);
                surface.Canvas.DrawPath(outline, edge);
            }
            var counts = string.Join(", ", panels[p].Series.Select(s => $"{s.Name} n={s.Values.Count}"));
            surface.Text(counts, plot.MidX, plot.Top + 10, 10, SKTextAlign.Center);
        }
        surface.Legend([.. panels.FirstOrDefault()?.Series.Select(s => s.Name) ?? []], lines: false);
        surface.Save(path);
    }

    private enum AxisTicks
    {
        Linear,
        Integers,
        Decades,
    }

    private static double[] Density(IReadOnlyList<double> values, double lo, double hi, int bins)
    {
        var counts = new double[bins];
        foreach (var v in values) counts[Math.Clamp((int)((v - lo) / (hi - lo) * bins), 0, bins - 1)]++;
        if (values.Count > 0) for (int b = 0; b < bins; b++) counts[b] /= values.Count;
        return counts;
    }

    /// <summary>A white canvas with a title; the plot area leaves room for axes and the legend.</summary>
    private sealed class Surface : IDisposable
    {
        private readonly SKBitmap bitmap;

        public Surface(string title, int width = Width, int height = Height, float bottomMargin = MarginBottom)
        {
            bitmap = new SKBitmap(width, height);
            Canvas = new SKCanvas(bitmap);
            Canvas.Clear(SKColors.White);
            PlotArea = new SKRect(MarginLeft, MarginTop, width - MarginRight, height - bottomMargin);
            Text(title, width / 2f, 32, 18, SKTextAlign.Center, bold: true);
        }

        public SKCanvas Canvas { get; }

        public SKRect PlotArea { get; }

        public void Text(string text, float x, float y, float size, SKTextAlign align, bool bold = false, SKColor? color = null)
        {
            using var paint = new SKPaint
            {
                Color = color ?? new SKColor(30, 30, 30), TextSize = size, IsAntialias = true, TextAlign = align,
                Typeface = Typeface.Value, FakeBoldText = bold,
            };
            Canvas.DrawText(text, x, y, paint);
        }

        public void Fill(SKRect rect, SKColor color)
        {
            using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Fill };
            Canvas.DrawRect(rect, paint);
        }

        public void Circle(float x, float y, float radius, SKColor color, bool ring)
        {
            using var paint = new SKPaint { Color = color, Style = SKPaintStyle.Fill, IsAntialias = true };
            Canvas.DrawCircle(x, y, radius, paint);
            if (!ring) return;
            using var edge = new SKPaint { Color = SKColors.Black, Style = SKPaintStyle.Stroke, StrokeWidth = 1.5f, IsAntialias = true };
            Canvas.DrawCircle(x, y, radius, edge);
        }

        public void YAxis(SKRect plot, double min, double max, string label, int ticks, int decimals = 1, bool grid = true)
        {
            using var axis = new SKPaint { Color = new SKColor(60, 60, 60), StrokeWidth = 1.2f, IsAntialias = true };
            using var gridPaint = new SKPaint { Color = new SKColor(225, 225, 225), StrokeWidth = 1 };
            for (int t = 0; t <= ticks; t++)
            {
                double v = min + (max - min) * t / ticks;
                float y = plot.Bottom - plot.Height * t / ticks;
                if (grid && t > 0) Canvas.DrawLine(plot.Left, y, plot.Right, y, gridPaint);
                Canvas.DrawLine(plot.Left - 5, y, plot.Left, y, axis);
                Text(v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture), plot.Left - 8, y + 4, 11, SKTextAlign.Right);
            }
            Canvas.DrawLine(plot.Left, plot.Top, plot.Left, plot.Bottom, axis);
            Canvas.DrawLine(plot.Left, plot.Bottom, plot.Right, plot.Bottom, axis);
            if (label.Length == 0) return;
            Canvas.Save();
            Canvas.RotateDegrees(-90, 18, plot.MidY);
            Text(label, 18, plot.MidY + 4, 13, SKTextAlign.Center);
            Canvas.Restore();
        }

        public void XAxis(SKRect plot, double min, double max, string label, AxisTicks ticks)
        {
            using var axis = new SKPaint { Color = new SKColor(60, 60, 60), StrokeWidth = 1.2f, IsAntialias = true };
            var values = new List<double>();
            if (ticks == AxisTicks.Linear)
            {
                for (int t = 0; t <= 4; t++) values.Add(min + (max - min) * t / 4);
            }
            else
            {
                // Whole numbers (epochs, or powers of ten on a log axis), at most about 12 of them.
                double step = Math.Max(1, Math.Ceiling((max - min) / 12));
                for (double v = Math.Ceiling(min); v <= max + 1e-9; v += step) values.Add(v);
            }
            foreach (var v in values)
            {
                float x = plot.Left + (float)((v - min) / (max - min)) * plot.Width;
                Canvas.DrawLine(x, plot.Bottom, x, plot.Bottom + 5, axis);
                var text = ticks switch
                {
                    AxisTicks.Integers => v.ToString("F0", CultureInfo.InvariantCulture),
                    AxisTicks.Decades => Decade((int)Math.Round(v)),
                    _ => v.ToString("G3", CultureInfo.InvariantCulture),
                };
                Text(text, x, plot.Bottom + 18, 11, SKTextAlign.Center);
            }
            Text(label, plot.MidX, plot.Bottom + 38, 13, SKTextAlign.Center);
        }

        /// <summary>10^k as people write it: 0.01, 0.1, 1, 10, 100, else 1e-5, 1e4.</summary>
        private static string Decade(int k) => k is >= -2 and <= 3
            ? Math.Pow(10, k).ToString("0.##", CultureInfo.InvariantCulture)
            : "1e" + k.ToString(CultureInfo.InvariantCulture);

        public void Legend(IReadOnlyList<string> names, bool lines)
        {
            float x = PlotArea.Left, y = bitmap.Height - 22;
            for (int i = 0; i < names.Count; i++)
            {
                var color = Palette[i % Palette.Length];
                if (lines)
                {
                    using var stroke = new SKPaint { Color = color, StrokeWidth = 3, IsAntialias = true };
                    Canvas.DrawLine(x, y - 4, x + 22, y - 4, stroke);
                }
                else
                {
                    Fill(new SKRect(x, y - 12, x + 16, y + 2), color);
                }
                Text(names[i], x + 28, y + 1, 13, SKTextAlign.Left);
                using var measure = new SKPaint { TextSize = 13, Typeface = Typeface.Value };
                x += 28 + measure.MeasureText(names[i]) + 26;
            }
        }

        public void Save(string path)
        {
            Canvas.Flush();
            using var image = SKImage.FromBitmap(bitmap);
            using var data = image.Encode(SKEncodedImageFormat.Png, 100)
                ?? throw new InvalidOperationException($"SkiaSharp could not encode '{path}' as PNG.");
            using var file = File.Create(path);
            data.SaveTo(file);
        }

        public void Dispose()
        {
            Canvas.Dispose();
            bitmap.Dispose();
        }
    }
}
