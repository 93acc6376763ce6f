using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// The fitted <see cref="ImageNetPreprocessingEstimator"/>: turns a column of image paths into a
/// <c>Vector&lt;Single, 3·crop·crop&gt;</c> column of normalised planar RGB values (see the estimator for the
/// formula). It is a thin wrapper over <see cref="Chain"/>, a chain of ML.NET's own transformers; saving it with
/// <c>mlContext.Model.Save</c> saves that chain, and <c>mlContext.Model.Load</c> returns it as a plain
/// <see cref="TransformerChain{TLastTransformer}"/> that computes the same values.
/// </summary>
/// <remarks>
/// <para>Errors: when an image cannot be loaded while the data is read, the exception this transformer's output throws
/// is an <see cref="InvalidDataException"/> naming the file, its row and the reason (file missing, or not
/// decodable), with ML.NET's exception as the inner one; for a missing file the message names the path as written,
/// the full path tried and <see cref="ImageFolder"/> (and how to set it). The reloaded plain chain throws ML.NET's own
/// exceptions, which name a missing file but not an undecodable one.</para>
/// <para>Image folder: the saved chain's <c>LoadImages</c> step keeps <see cref="ImageFolder"/>, the absolute folder
/// of the machine it was fitted on (ML.NET makes a relative folder absolute when the step is created), and reads relative
/// paths from there wherever the model is loaded. Set another one when the model is loaded, with
/// <c>mlContext.Model.LoadWithImageFolder(path, imageFolder, out schema)</c> (<see cref="ImageFolderCatalog"/>), or use
/// full paths and no folder (<c>LoadImageList</c>'s rows).</para>
/// </remarks>
public sealed class ImageNetPreprocessingTransformer : ITransformer
{
    /// <summary>Where a user sets <see cref="ImageFolder"/>, for messages.</summary>
    internal const string FolderSetting = "ImageNetPreprocessing(imageFolder: ...), or Model.LoadWithImageFolder for a saved model";

    private readonly ImageNetPreprocessingSettings _settings;

    internal ImageNetPreprocessingTransformer(TransformerChain<ITransformer> chain, ImageNetPreprocessingSettings settings)
    {
        Chain = chain;
        _settings = settings;
    }

    /// <summary>The checked settings (for <see cref="ImageFolderRebase"/>).</summary>
    internal ImageNetPreprocessingSettings Settings => _settings;

    /// <summary>The ML.NET transformers this transformer consists of; this is what is saved.</summary>
    public TransformerChain<ITransformer> Chain { get; }

    /// <summary>Name of the output column (default <c>Features</c>).</summary>
    public string OutputColumnName => _settings.OutputColumnName;

    /// <summary>Name of the input text column of image paths (default <c>ImagePath</c>).</summary>
    public string ImagePathColumnName => _settings.ImagePathColumnName;

    /// <summary>Folder relative image paths are resolved against, made absolute when the estimator was created; null
    /// (default) for paths as given (relative ones against the current directory). The saved chain keeps it; set another
    /// one at scoring time with <c>mlContext.Model.LoadWithImageFolder</c>.</summary>
    public string? ImageFolder => _settings.ImageFolder;

    /// <summary>Side of the resized square image, in pixels (default 256).</summary>
    public int Resize => _settings.Resize;

    /// <summary>Side of the centre crop, in pixels (default 224).</summary>
    public int Crop => _settings.Crop;

    /// <summary>Per-channel mean subtracted from the [0, 1] values, red, green, blue (default ImageNet's).</summary>
    public IReadOnlyList<float> Mean => _settings.Mean;

    /// <summary>Per-channel standard deviation the values are divided by, red, green, blue (default ImageNet's).</summary>
    public IReadOnlyList<float> Std => _settings.Std;

    /// <summary>The shape of one output vector: <c>[3, crop, crop]</c>. The column itself carries no dimensions;
    /// pass this shape to a trainer.</summary>
    public ImageShape OutputShape => new(3, Crop, Crop);

    /// <summary>What the preprocessing computes, as one line: sizes, mean, standard deviation and image folder. Two
    /// transformers with the same description produce the same values from the same files (a key part of
    /// <see cref="FeatureFileKey"/>).</summary>
    public string Description => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"ImageNetPreprocessing resize {Resize}, crop {Crop}, mean [{string.Join(", ", Mean.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}], " +
        $"std [{string.Join(", ", Std.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}], folder '{ImageFolder}'");

    /// <summary>True: the chain maps row to row.</summary>
    public bool IsRowToRowMapper => ((ITransformer)Chain).IsRowToRowMapper;

    /// <summary>The output schema: the input columns and the output vector column.</summary>
    /// <param name="inputSchema">The input schema; must have the image path column as text.</param>
    /// <returns>The output schema.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The image path column is missing or not text (ML.NET's wording).</exception>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageNetPreprocessingEstimator.CheckImagePathColumn(inputSchema, ImagePathColumnName);
        return Chain.GetOutputSchema(inputSchema);
    }

    /// <summary>The chain's row-to-row mapper (its errors are ML.NET's own, see the remarks).</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The mapper.</returns>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        ImageNetPreprocessingEstimator.CheckImagePathColumn(inputSchema, ImagePathColumnName);
        return ((ITransformer)Chain).GetRowToRowMapper(inputSchema);
    }

    /// <summary>Applies the preprocessing lazily; images are decoded when the output is read.</summary>
    /// <param name="input">Data with the image path column.</param>
    /// <returns>The input columns and the output vector column.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The image path column is missing or not text (ML.NET's wording).</exception>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ImageNetPreprocessingEstimator.CheckImagePathColumn(input.Schema, ImagePathColumnName);
        return new ImageErrorNamingDataView(Chain.Transform(input), input, ImagePathColumnName, ImageFolder, FolderSetting);
    }

    /// <summary>Saves <see cref="Chain"/>: the model file holds only ML.NET's own transformers.</summary>
    /// <param name="ctx">ML.NET's save context.</param>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)Chain).Save(ctx);
}
