using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;
using SkiaSharp;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Tests.Transforms;

public sealed class ImageNetPreprocessingTests : IDisposable
{
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];
    private readonly TempFolder _folder = new("flatdebias-preprocessing");
    private readonly MLContext _ml = new(seed: 0);

    public void Dispose() => _folder.Dispose();

    /// <summary>Pixel (x, y) of the 256×256 test pattern: every channel differs and depends on the position.</summary>
    private static SKColor Pattern(int x, int y) => new((byte)x, (byte)y, (byte)((x + 2 * y) % 256));

    private static float Expected(byte pixel, int channel) => (pixel / 255f - Mean[channel]) / Std[channel];

    [Fact]
    public void Output_is_3x224x224_with_the_formula_on_a_known_image()
    {
        // At 256×256 the resize is the identity, so every output value is known: the crop keeps x, y in [16, 240).
        var path = _folder.Combine("pattern.png");
        WaterbirdsFolderBuilder.WritePng(path, 256, 256, Pattern);
        var data = Paths(path);
        var transformer = _ml.Transforms.ImageNetPreprocessing().Fit(data);

        Assert.Equal(new ImageShape(3, 224, 224), transformer.OutputShape);
        var type = Assert.IsType<VectorDataViewType>(transformer.GetOutputSchema(data.Schema)["Features"].Type);
        Assert.Equal(NumberDataViewType.Single, type.ItemType);
        Assert.Equal(3 * 224 * 224, type.Size);
        Assert.Equal([3 * 224 * 224], type.Dimensions.ToArray());  // no [3, 224, 224] dimensions: see the estimator's remarks

        var features = Features(transformer.Transform(data)).Single();
        Assert.Equal(3 * 224 * 224, features.Length);
        double worst = 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 224; y++)
                for (int x = 0; x < 224; x++)
                {
                    var pixel = Pattern(x + 16, y + 16);
                    byte value = c == 0 ? pixel.Red : c == 1 ? pixel.Green : pixel.Blue;
                    worst = Math.Max(worst, Math.Abs(features[(c * 224 + y) * 224 + x] - Expected(value, c)));
                }
        Assert.True(worst < 1e-5, $"max abs error {worst}");
    }

    [Fact]
    public void Uniform_image_of_any_size_gives_the_formula_everywhere()
    {
        var color = new SKColor(200, 100, 50);
        WaterbirdsFolderBuilder.WritePng(_folder.Combine("flat.png"), 300, 170, (_, _) => color);
        var data = Paths(_folder.Combine("flat.png"));
        var features = Features(_ml.Transforms.ImageNetPreprocessing(resize: 32, crop: 24).Fit(data).Transform(data)).Single();
        Assert.Equal(3 * 24 * 24, features.Length);
        byte[] rgb = [200, 100, 50];
        for (int c = 0; c < 3; c++)
            Assert.All(features.Skip(c * 576).Take(576), v => Assert.Equal(Expected(rgb[c], c), v, 1e-5));
    }

    [Fact]
    public void Custom_mean_std_and_odd_crop_offsets_follow_torchvision()
    {
        // 10 → 7: torchvision's CenterCrop starts at round(1.5) = 2 (half to even), so columns 2..8 are kept.
        var path = _folder.Combine("small.png");
        WaterbirdsFolderBuilder.WritePng(path, 10, 10, (x, y) => new SKColor((byte)(10 * x), (byte)(10 * y), 7));
        var data = Paths(path);
        var features = Features(_ml.Transforms.ImageNetPreprocessing(resize: 10, crop: 7, mean: [0, 0, 0], std: [1, 1, 1]).Fit(data).Transform(data)).Single();
        Assert.Equal(10 * 2 / 255f, features[0], 1e-6);           // red at x = 2
        Assert.Equal(10 * 2 / 255f, features[49], 1e-6);          // green at y = 2
        Assert.Equal(10 * 8 / 255f, features[6], 1e-6);           // red at x = 8, the last kept column
        Assert.Equal(7 / 255f, features[2 * 49 + 48], 1e-6);      // blue
    }

    [Fact]
    public void Resizing_is_nearest_neighbour_sampling_against_an_independent_computation()
    {
        // Random pixels, so that every source pixel is told apart; 20 -> 26 (up) and 20 -> 14 (down), then the centre crop.
        var random = new Random(3);
        var pixels = new SKColor[20, 20];
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++) pixels[y, x] = new SKColor((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        var path = _folder.Combine("random.png");
        WaterbirdsFolderBuilder.WritePng(path, 20, 20, (x, y) => pixels[y, x]);
        var data = Paths(path);
        foreach (var (resize, crop) in new[] { (26, 24), (14, 11) })
        {
            var features = Features(_ml.Transforms.ImageNetPreprocessing(resize: resize, crop: crop).Fit(data).Transform(data)).Single();
            // Output pixel i of a resize from n to m reads source pixel round((i + 0.5) n / m - 0.5), half to even (ML.NET's
            // Fill, SkiaSharp's nearest sampling; the same in ML.NET 5.0.1 and 6.0.0); the crop starts at round((m - crop) / 2).
            int Source(int i) => Math.Min(19, (int)Math.Round((i + 0.5) * 20 / resize - 0.5, MidpointRounding.ToEven));
            int start = (int)Math.Round((resize - crop) / 2.0, MidpointRounding.ToEven);
            double worst = 0;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < crop; y++)
                    for (int x = 0; x < crop; x++)
                    {
                        var pixel = pixels[Source(y + start), Source(x + start)];
                        byte value = c == 0 ? pixel.Red : c == 1 ? pixel.Green : pixel.Blue;
                        worst = Math.Max(worst, Math.Abs(features[(c * crop + y) * crop + x] - Expected(value, c)));
                    }
            Assert.True(worst < 1e-5, $"{resize} -> {crop}: max abs error {worst} against nearest-neighbour sampling");
        }
    }

    [Fact]
    public void Grey_and_jpeg_images_give_three_channels()
    {
        var grey = _folder.Combine("grey.png");
        using (var bitmap = new SKBitmap(new SKImageInfo(20, 20, SKColorType.Gray8, SKAlphaType.Opaque)))
        {
            bitmap.Erase(new SKColor(128, 128, 128));
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(grey, png.ToArray());
        }
        var jpeg = _folder.Combine("photo.jpg");
        WaterbirdsFolderBuilder.WritePng(jpeg, 40, 30, (_, _) => new SKColor(128, 128, 128), SKEncodedImageFormat.Jpeg);
        var data = Paths(grey, jpeg);
        foreach (var features in Features(_ml.Transforms.ImageNetPreprocessing(resize: 16, crop: 8).Fit(data).Transform(data)))
            for (int c = 0; c < 3; c++)
                Assert.Equal(Expected(128, c), features[c * 64 + 27], 0.02);
    }

    [Fact]
    public void Saved_model_loads_as_a_plain_mlnet_chain_and_gives_the_same_values()
    {
        var path = _folder.Combine("pattern.png");
        WaterbirdsFolderBuilder.WritePng(path, 50, 40, Pattern);
        var data = Paths(path);
        var transformer = _ml.Transforms.ImageNetPreprocessing(resize: 32, crop: 28).Fit(data);
        var expected = Features(transformer.Transform(data)).Single();

        var model = _folder.Combine("model.zip");
        _ml.Model.Save(transformer, data.Schema, model);
        var loaded = new MLContext(seed: 1).Model.Load(model, out var inputSchema);

        Assert.IsType<TransformerChain<ITransformer>>(loaded);
        Assert.Equal(TextDataViewType.Instance, inputSchema["ImagePath"].Type);
        var output = loaded.Transform(data);
        Assert.DoesNotContain(output.Schema, c => !c.IsHidden && c.Name.StartsWith("__", StringComparison.Ordinal));
        Assert.Equal(expected, Features(output).Single());
    }

    [Fact]
    public void Output_keeps_input_columns_and_works_on_a_waterbirds_folder()
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1, size: 24);
        var data = _ml.Data.LoadWaterbirds(_folder.Path);
        var pipeline = _ml.Transforms.ImageNetPreprocessing();
        var shape = pipeline.GetOutputSchema(ShapeOf(data.Schema));
        Assert.Contains(shape, c => c.Name == "Features" && c.Kind == SchemaShape.Column.VectorKind.Vector && c.ItemType == NumberDataViewType.Single);
        Assert.Contains(shape, c => c.Name == "Group");
        Assert.DoesNotContain(shape, c => c.Name.StartsWith("__", StringComparison.Ordinal));

        var output = pipeline.Fit(data).Transform(data);
        Assert.Equal(["ImagePath", "Label", "Place", "Group", "Split", "ImageId", "Features"], output.Schema.Where(c => !c.IsHidden).Select(c => c.Name));
        Assert.Equal(rows.Count, Features(output).Count(f => f.Length == 3 * 224 * 224));
    }

    [Fact]
    public void Image_path_column_errors_use_mlnet_wording()
    {
        var data = Paths(_folder.Combine("x.png"));
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ImageNetPreprocessing(imagePathColumnName: "Path").Fit(data));
        Assert.Contains("Could not find image path column 'Path'", missing.Message);
        var numbers = _ml.Data.LoadFromEnumerable([new NumberRow()]);
        var mismatch = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ImageNetPreprocessing().Fit(numbers));
        Assert.Contains("Schema mismatch for image path column 'ImagePath': expected String, got Single", mismatch.Message);
    }

    [Fact]
    public void Bad_arguments_name_the_argument()
    {
        Assert.Equal("crop", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ImageNetPreprocessing(resize: 100, crop: 101)).ParamName);
        Assert.Equal("resize", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ImageNetPreprocessing(resize: 0)).ParamName);
        Assert.Equal("std", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ImageNetPreprocessing(std: [1, 0, 1])).ParamName);
        Assert.Equal("mean", Assert.Throws<ArgumentException>(() => _ml.Transforms.ImageNetPreprocessing(mean: [0.5f, 0.5f])).ParamName);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Undecodable_or_missing_image_while_reading_names_the_file_and_row(bool missing)
    {
        var good = _folder.Combine("good.png");
        WaterbirdsFolderBuilder.WritePng(good, 12, 12, Pattern);
        var bad = _folder.Combine("bad.png");
        if (!missing) File.WriteAllText(bad, "not a PNG at all");
        var data = Paths(good, good, bad, good);
        var output = _ml.Transforms.ImageNetPreprocessing(resize: 8, crop: 8).Fit(data).Transform(data);
        var e = Assert.Throws<InvalidDataException>(() => Features(output));
        Assert.Contains(bad, e.Message);
        Assert.Contains("row 2", e.Message);
        Assert.Contains(missing ? "does not exist" : "not an image", e.Message);
    }

    /// <summary>ML.NET's SchemaShape.Create is internal; tests reach it by reflection (the library does not).</summary>
    private static SchemaShape ShapeOf(DataViewSchema schema)
        => (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic)!
            .Invoke(null, [schema])!;

    private IDataView Paths(params string[] paths) => _ml.Data.LoadFromEnumerable(paths.Select(p => new PathRow { ImagePath = p }));

    private static List<float[]> Features(IDataView data) => data.GetColumn<float[]>("Features").ToList();

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class NumberRow
    {
        public float ImagePath { get; set; }
    }
}
