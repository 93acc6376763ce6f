using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.FlatDebias.Common;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// The Waterbirds / ImageNet image preprocessing as an ML.NET estimator: load the image, resize it to
/// <c>resize</c>×<c>resize</c> (aspect ratio not kept, as torchvision's <c>Resize((256, 256))</c> in the Waterbirds
/// code), keep the centred <c>crop</c>×<c>crop</c> window, RGB, scale to [0, 1], and normalise each channel with
/// ImageNet's mean and standard deviation: <c>value = (pixel / 255 − mean[c]) / std[c]</c>.
/// Create it with <see cref="ImageNetPreprocessingCatalog.ImageNetPreprocessing"/>.
/// </summary>
/// <remarks>
/// <para>Input: a text column of image paths (<c>ImagePath</c> by default, as <see cref="WaterbirdsCatalog.LoadWaterbirds"/>
/// writes it). Output: a known-size vector of <c>3·crop·crop</c> Single values (150,528 by default) in planar RGB
/// order, index <c>(c·crop + y)·crop + x</c>. The column carries <b>no dimensions</b> (a plain
/// <c>Vector&lt;Single, 150528&gt;</c>): ML.NET's public transforms cannot reshape a vector, so a trainer takes the
/// image shape from its <c>ImageShape</c> option, or from <see cref="ImageNetPreprocessingTransformer.OutputShape"/>.
/// (Only when <c>crop</c> = <c>resize</c>, where nothing is cropped, does the column keep ExtractPixels' dimensions
/// <c>[3, crop, crop]</c>.)</para>
/// <para>It is built only from ML.NET's public transforms, so the fitted transformer saves with
/// <c>mlContext.Model.Save</c> and loads back with <c>mlContext.Model.Load</c> as a plain ML.NET
/// <see cref="TransformerChain{TLastTransformer}"/>: <c>LoadImages</c> → <c>ResizeImages</c> (<c>Fill</c>) →
/// <c>ExtractPixels</c> (RGB, planar, ×1/255) → centre crop → per-channel normalisation → <c>DropColumns</c> of
/// the intermediate columns. The crop and the normalisation are ML.NET's slot-dropping and affine-normalising
/// transformers, obtained by fitting <c>SelectFeaturesBasedOnCount</c> and <c>NormalizeMinMax</c> on two tiny
/// synthetic data sets that yield exactly the crop window and the mean and std (ML.NET exposes no public
/// constructor for either with fixed parameters). One <c>ExtractPixels</c> for the three channels, rather than
/// one per channel with its own offset and scale, decodes and resizes each image once instead of three times
/// (ML.NET recomputes an image column for each column that reads it: measured 250 against 133 images/s at 500×375);
/// the values agree with the formula to within 1e-5 (tested on a known image).</para>
/// <para>Resizing is ML.NET's <c>ResizeImages</c> with <c>Fill</c>: the image stretched to <c>resize</c>×<c>resize</c> by
/// nearest-neighbour sampling (output pixel i of n → m reads source pixel round((i + 0.5)·n/m − 0.5); checked against that
/// formula, and the same in ML.NET 5.0.1 and 6.0.0). torchvision resizes the shorter side bilinearly and keeps the aspect
/// ratio, so values differ from its pipeline's wherever an image is resized (not at all where it already has the size).</para>
/// </remarks>
public sealed class ImageNetPreprocessingEstimator : IEstimator<ImageNetPreprocessingTransformer>
{
    /// <summary>Default size of the resized square image, in pixels: 256.</summary>
    public const int DefaultResize = 256;

    /// <summary>Default size of the centre crop, in pixels: 224.</summary>
    public const int DefaultCrop = 224;

    /// <summary>Largest accepted <c>resize</c>, in pixels: 4096.</summary>
    public const int MaximumSize = 4096;

    /// <summary>ImageNet's per-channel mean on the [0, 1] scale, red, green, blue: 0.485, 0.456, 0.406.</summary>
    public static IReadOnlyList<float> ImageNetMean { get; } = [.. Common.ImageNetNormalization.Mean.Select(v => (float)v)];

    /// <summary>ImageNet's per-channel standard deviation on the [0, 1] scale, red, green, blue: 0.229, 0.224, 0.225.</summary>
    public static IReadOnlyList<float> ImageNetStd { get; } = [.. Common.ImageNetNormalization.Std.Select(v => (float)v)];

    private readonly TransformsCatalog _catalog;
    private readonly ImageNetPreprocessingSettings _settings;

    internal ImageNetPreprocessingEstimator(TransformsCatalog catalog, ImageNetPreprocessingSettings settings)
    {
        _catalog = catalog;
        _settings = settings;
    }

    /// <summary>Builds the transformer for the schema of <paramref name="input"/> (nothing is learnt from the data).</summary>
    /// <param name="input">Data with a text column of image paths.</param>
    /// <returns>The fitted transformer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The image path column is missing or not text (ML.NET's wording).</exception>
    public ImageNetPreprocessingTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckImagePathColumn(input.Schema, _settings.ImagePathColumnName);
        var s = _settings;
        var names = new TemporaryColumns(s.OutputColumnName);
        var decode = Decoder(names).Fit(input);
        var crop = FixedSlotTransforms.CenterCrop(_catalog, names.Cropped, names.Pixels, 3, s.Resize, s.Crop);
        var cropped = crop.Transform(decode.Transform(input));
        var croppedType = (VectorDataViewType)cropped.Schema[names.Cropped].Type;
        var normalize = FixedSlotTransforms.PerChannelAffine(_catalog, s.OutputColumnName, names.Cropped, croppedType, s.Mean, s.Std);
        var drop = _catalog.DropColumns(names.All).Fit(normalize.Transform(cropped));

        var chain = new TransformerChain<ITransformer>([.. decode, crop, normalize, drop]);
        return new ImageNetPreprocessingTransformer(chain, s);
    }

    /// <summary>The schema after the transform: the input columns and the output vector column.</summary>
    /// <param name="inputSchema">The input's schema shape.</param>
    /// <returns>The output's schema shape.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The image path column is missing or not text (ML.NET's wording).</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        var path = SchemaGuard.RequireColumn(inputSchema, "image path", _settings.ImagePathColumnName);
        if (path.Kind != SchemaShape.Column.VectorKind.Scalar || path.ItemType is not TextDataViewType)
            throw SchemaGuard.Mismatch("image path", path.Name, "String", $"{path.Kind} of {path.ItemType}");
        // The shape of the real chain with the crop left out (a crop changes a vector's size, which a
        // SchemaShape does not hold); ML.NET keeps SchemaShape.Create and the column constructor internal.
        var names = new TemporaryColumns(_settings.OutputColumnName);
        var shape = Decoder(names).Append(_catalog.NormalizeMinMax(_settings.OutputColumnName, names.Pixels, fixZero: false))
            .GetOutputSchema(inputSchema);
        return new SchemaShape(shape.Where(c => !names.All.Contains(c.Name)));
    }

    /// <summary>Load, resize and extract the [0, 1] RGB planes into <see cref="TemporaryColumns.Pixels"/>.</summary>
    private EstimatorChain<ImagePixelExtractingTransformer> Decoder(TemporaryColumns names)
        => _catalog.LoadImages(names.Image, _settings.ImageFolder, _settings.ImagePathColumnName)
            .Append(_catalog.ResizeImages(names.Resized, _settings.Resize, _settings.Resize, names.Image, ImageResizingEstimator.ResizingKind.Fill))
            .Append(_catalog.ExtractPixels(names.Pixels, names.Resized, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f / 255f, outputAsFloatArray: true));

    /// <summary>Names of the intermediate columns, dropped at the end of the chain.</summary>
    private sealed class TemporaryColumns(string output)
    {
        private readonly string _prefix = $"__{output}.ImageNetPreprocessing.";

        public string Image => _prefix + "Image";

        public string Resized => _prefix + "Resized";

        public string Pixels => _prefix + "Pixels";

        public string Cropped => _prefix + "Cropped";

        public string[] All => [Image, Resized, Pixels, Cropped];
    }

    /// <summary>The type of the output column: <c>Vector&lt;Single, 3·crop·crop&gt;</c>.</summary>
    internal static VectorDataViewType OutputType(ImageNetPreprocessingSettings settings)
        => new(NumberDataViewType.Single, 3 * settings.Crop * settings.Crop);

    /// <summary>Throws ML.NET's schema errors when the image path column is missing or not text.</summary>
    internal static void CheckImagePathColumn(DataViewSchema schema, string name)
    {
        var column = SchemaGuard.RequireColumn(schema, "image path", name);
        if (column.Type is not TextDataViewType)
            throw SchemaGuard.Mismatch("image path", name, "String", SchemaGuard.Describe(column.Type));
    }
}
