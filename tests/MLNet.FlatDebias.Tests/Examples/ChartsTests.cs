using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Examples;
using MLNet.FlatDebias.Tests.Infrastructure;
using SkiaSharp;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The examples' charts (examples/Common/Charts.cs, ScottPlot): each kind is written at its size on a white
/// background in the palette's colours, with missing values left out, and ML.NET's image loader reads a chart back in
/// the same process (ScottPlot and Microsoft.ML.ImageAnalytics share SkiaSharp 3).</summary>
public sealed class ChartsTests : IDisposable
{
    private static readonly SKColor Blue = SKColor.Parse("#0072B2");
    private static readonly SKColor Orange = SKColor.Parse("#E69F00");
    private readonly TempFolder _folder = new("flatdebias-charts");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Bars_are_drawn_in_the_palette_and_many_categories_widen_the_chart()
    {
        var path = _folder.Combine("bars.png");
        Charts.Bars(path, "Test accuracy per group", "accuracy", ["a", "b", "c"],
            [new ChartSeries("ERM", [1.0, 0.3, double.NaN]), new ChartSeries("GroupDRO", [0.9, 0.7, 0.8])]);
        using (var bars = SKBitmap.Decode(path))
        {
            Assert.Equal((1000, 560), (bars.Width, bars.Height));
            Assert.Equal(SKColors.White, bars.GetPixel(2, 2));
            Assert.True(Count(bars, Blue) > 1000 && Count(bars, Orange) > 1000);
        }

        var crowded = _folder.Combine("crowded.png");
        var categories = Enumerable.Range(0, 20).Select(i => $"variant-{i}").ToList();
        Charts.Bars(crowded, "Many variants", "worst-group accuracy", categories,
            [new ChartSeries("seed 0", [.. categories.Select((_, i) => i % 3 == 0 ? double.NaN : 0.05 * i)])]);
        using var wide = SKBitmap.Decode(crowded);
        Assert.Equal((56 * 20 + 120, 560 + 70), (wide.Width, wide.Height));
    }

    [Fact]
    public void Horizontal_bars_have_a_row_per_category()
    {
        var path = _folder.Combine("horizontal.png");
        Charts.HorizontalBars(path, "wbr18: test worst-group accuracy", "worst-group accuracy", ["erm", "groupdro", "dfr"],
            [new ChartSeries("groups", [0.3, 0.7, double.NaN], [0.02, 0.01, double.NaN]), new ChartSeries("no groups", [0.3, 0.4, 0.8], [0.0, 0.05, 0.02])]);
        using var chart = SKBitmap.Decode(path);
        Assert.Equal((900, 150 + 60 * 3), (chart.Width, chart.Height));
        Assert.True(Count(chart, Blue) > 1000 && Count(chart, Orange) > 1000);
    }

    [Fact]
    public void Lines_skip_missing_points_and_mark_the_selected_one()
    {
        var path = _folder.Combine("lines.png");
        double[] epochs = [1, 2, 3, 4, 5];
        Charts.Lines(path, "Validation worst-group accuracy by epoch", "epoch", "worst-group accuracy",
            [new ChartLine("ERM", epochs, [0, 0.1, double.NaN, 0.3, 0.2], Highlight: 3), new ChartLine("GroupDRO", epochs, [0.5, 0.6, 0.7, 0.4, 0.5])]);
        using var chart = SKBitmap.Decode(path);
        Assert.Equal((1000, 560), (chart.Width, chart.Height));
        Assert.True(Count(chart, Blue) > 100 && Count(chart, Orange) > 100);
    }

    [Fact]
    public void Histograms_put_one_panel_per_model_side_by_side()
    {
        var path = _folder.Combine("histograms.png");
        var rng = new Random(0);
        HistogramPanel Panel(string title) => new(title,
        [
            new ChartSeries("majority groups", [.. Enumerable.Range(0, 200).Select(_ => Math.Pow(10, -6 + 6 * rng.NextDouble()))]),
            new ChartSeries("minority groups", [.. Enumerable.Range(0, 30).Select(_ => Math.Pow(10, -2 + 3 * rng.NextDouble()))]),
        ]);
        Charts.Histograms(path, "Per-sample Fisher traces", "trace", [Panel("after epoch 1"), Panel("ERM"), Panel("GroupDRO"), Panel("FlatDebias")]);
        using var chart = SKBitmap.Decode(path);
        Assert.Equal((330 * 4 + 110, 560), (chart.Width, chart.Height));
        Assert.True(Count(chart, Blue) > 100 && Count(chart, Orange) > 100);
    }

    [Fact]
    public void ImageAnalytics_reads_a_chart_drawn_in_the_same_process()
    {
        var path = _folder.Combine("read-back.png");
        Charts.Bars(path, "Read back", "accuracy", ["a", "b"], [new ChartSeries("ERM", [0.5, 1.0])]);
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable([new ImagePath { Path = path }]);
        var pipeline = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: nameof(ImagePath.Path))
            .Append(ml.Transforms.ResizeImages("Image", 50, 28))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"));
        var pixels = pipeline.Fit(data).Transform(data).GetColumn<VBuffer<float>>("Pixels").Single().DenseValues().ToArray();
        Assert.Equal(3 * 50 * 28, pixels.Length);
        Assert.Equal(255, pixels.Max());   // the white background
        Assert.True(pixels.Min() < 128);   // the bars, the text
    }

    private static int Count(SKBitmap bitmap, SKColor color)
    {
        int count = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (bitmap.GetPixel(x, y) == color) count++;
        return count;
    }

    private sealed class ImagePath
    {
        public string Path { get; set; } = "";
    }
}
