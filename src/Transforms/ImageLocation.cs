namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// An image path as the data holds it, the image folder it is read relative to, and where that folder is set: what
/// every image-reading step names when a file cannot be found. The path is resolved as ML.NET's <c>LoadImages</c>
/// resolves it: <c>Path.Combine(imageFolder, path)</c> when the folder is set (a rooted path stays as it is), else the
/// path as written, relative to the current directory.
/// </summary>
/// <param name="AsWritten">The path as the data holds it (e.g. <c>dog/dog_0197.png</c>).</param>
/// <param name="ImageFolder">The folder relative paths are read from; null or empty for none (the current directory).</param>
/// <param name="FolderSetting">Where the caller sets that folder, for messages, e.g.
/// <c>ImageNetPreprocessing(imageFolder: ...)</c>.</param>
internal readonly record struct ImageLocation(string AsWritten, string? ImageFolder, string FolderSetting)
{
    /// <summary>The full path the file is read from.</summary>
    public string FullPath => Path.GetFullPath(HasFolder ? Path.Combine(ImageFolder!, AsWritten) : AsWritten);

    private bool HasFolder => !string.IsNullOrWhiteSpace(ImageFolder);

    /// <summary>The file, for messages: <c>'dog/d.png' ('/data/photos/dog/d.png')</c>, or the path alone when it is already full.</summary>
    public string Describe()
        => string.Equals(AsWritten, FullPath, StringComparison.Ordinal) ? $"'{AsWritten}'" : $"'{AsWritten}' ('{FullPath}')";

    /// <summary>
    /// Why the file is not found, naming the path as written, the full path tried and the image folder: e.g.
    /// <c>image file 'dog/d.png' does not exist: looked for '/app/dog/d.png', relative to the current directory
    /// '/app' because imageFolder is not set; set it to the folder the paths are relative to
    /// (ImageNetPreprocessing(imageFolder: ...))</c>.
    /// </summary>
    public string NotFound()
    {
        var full = FullPath;
        if (Path.IsPathRooted(AsWritten))
        {
            var text = $"image file '{AsWritten}' does not exist";
            if (!string.Equals(AsWritten, full, StringComparison.Ordinal)) text += $" (looked for '{full}')";
            return HasFolder ? $"{text}; the path is absolute, so imageFolder '{ImageFolder}' ({FolderSetting}) does not apply" : text;
        }
        return HasFolder
            ? $"image file '{AsWritten}' does not exist: looked for '{full}', relative to imageFolder '{Path.GetFullPath(ImageFolder!)}' ({FolderSetting}); " +
              "set imageFolder to the folder the paths are relative to"
            : $"image file '{AsWritten}' does not exist: looked for '{full}', relative to the current directory '{Directory.GetCurrentDirectory()}' " +
              $"because imageFolder is not set; set it to the folder the paths are relative to ({FolderSetting})";
    }
}
