using MLNet.FlatDebias.Transforms;

namespace Microsoft.ML;

/// <summary>
/// The image folder of a model that reads image files, set when it is loaded or scored: <c>mlContext.Model.LoadWithImageFolder</c>,
/// <c>WithImageFolder</c> and <c>GetImageFolders</c>.
/// </summary>
/// <remarks>
/// <para>A chain saved from <c>ImageNetPreprocessing(imageFolder: ...)</c> keeps that folder, made absolute on the
/// training machine (its ML.NET <c>LoadImages</c> step reads <c>Path.Combine(imageFolder, path)</c>), and looks there on
/// every other machine too. With <c>LoadImageList</c>'s rows (full paths) the folder is not set and a
/// scoring program passes full paths, or sets a folder here and passes the paths relative to it.</para>
/// <para>Only the image-loading steps change (ML.NET's <c>LoadImages</c> and <c>LoadRawImageBytes</c>, alone or in
/// chains, and <c>ImageNetPreprocessing</c>'s); the rest of the model is kept as it is. A rebuilt chain applies every
/// step in every scope (a chain of <c>Append</c>ed transformers, as the recipes build, has no other).</para>
/// </remarks>
public static class ImageFolderCatalog
{
    /// <summary>
    /// Loads a model saved with <c>mlContext.Model.Save</c> and sets the folder its image-loading steps read relative
    /// image paths from, e.g. the folder a deployed application keeps its images in.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="filePath">The saved model (<c>.zip</c>).</param>
    /// <param name="imageFolder">The folder relative paths are read from (made absolute against the current directory
    /// now); null for paths as given (full paths, or relative to the current directory when the image is read). An
    /// absolute path in the data is read as it is, whatever the folder.</param>
    /// <param name="inputSchema">The schema the model was saved with.</param>
    /// <returns>The model, its image-loading steps reading from <paramref name="imageFolder"/>.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="imageFolder"/> does not exist.</exception>
    /// <exception cref="ArgumentException">The model has no image-loading step (it does not read image files).</exception>
    public static ITransformer LoadWithImageFolder(this ModelOperationsCatalog catalog, string filePath, string? imageFolder, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(filePath);
        var folder = CheckFolder(imageFolder);
        var model = catalog.Load(filePath, out inputSchema);
        return Rebase(model, inputSchema, folder, $"The model '{filePath}'", nameof(filePath));
    }

    /// <summary>
    /// <paramref name="model"/> with its image-loading steps reading relative image paths from another folder (a model in
    /// memory, or one loaded with <c>Model.Load</c>). The model given is not changed.
    /// </summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The model, e.g. <c>preprocessing.Append(features).Append(head)</c> or a loaded chain.</param>
    /// <param name="inputSchema">The schema the model takes: the one <c>Model.Load</c> gives, or the schema of the data it was
    /// fitted on (the image-loading steps' columns are read from it).</param>
    /// <param name="imageFolder">The folder relative paths are read from (made absolute now); null for paths as given.</param>
    /// <returns>A model that shares every other step with <paramref name="model"/>.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="imageFolder"/> does not exist.</exception>
    /// <exception cref="ArgumentException">The model has no image-loading step.</exception>
    public static ITransformer WithImageFolder(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string? imageFolder)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        return Rebase(model, inputSchema, CheckFolder(imageFolder), "The model", nameof(model));
    }

    /// <summary>The image folder of each image-loading step of <paramref name="model"/>, in order: what a saved chain
    /// reads relative paths from. Null for a step without a folder (paths as given); empty when the model reads no image file.</summary>
    /// <param name="catalog">The model catalog (<c>mlContext.Model</c>).</param>
    /// <param name="model">The model.</param>
    /// <returns>The folders.</returns>
    public static IReadOnlyList<string?> GetImageFolders(this ModelOperationsCatalog catalog, ITransformer model)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(model);
        return ImageFolderRebase.Folders(model);
    }

    private static string? CheckFolder(string? imageFolder)
    {
        if (string.IsNullOrWhiteSpace(imageFolder)) return null;
        var full = Path.GetFullPath(imageFolder);
        if (!Directory.Exists(full))
            throw new DirectoryNotFoundException($"imageFolder '{imageFolder}' does not exist (looked for '{full}'): pass the folder the image paths are relative to.");
        return full;
    }

    private static ITransformer Rebase(ITransformer model, DataViewSchema inputSchema, string? folder, string what, string parameter)
    {
        if (ImageFolderRebase.Folders(model).Count == 0)
            throw new ArgumentException($"{what} has no image-loading step (LoadImages, ImageNetPreprocessing): it does not read image files, so it has no image folder to set.", parameter);
        return ImageFolderRebase.Apply(model, inputSchema, folder);
    }
}
