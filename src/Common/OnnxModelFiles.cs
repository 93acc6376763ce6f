using System.Security.Cryptography;

namespace MLNet.FlatDebias.Common;

/// <summary>
/// ONNX graphs that ML.NET's <c>ApplyOnnxModel</c> reads from a file the library keeps, one file per distinct graph. Given
/// a stream, <c>ApplyOnnxModel</c> copies it to a new temporary file that only disposing the <c>OnnxTransformer</c>
/// deletes, and .NET runs no finalizer at exit: every fit (and every <c>GetOutputSchema</c>, whose estimator builds one)
/// of a pretrained-features step left a 44 MB copy of the ResNet-18 graph in the temporary folder. Given a path, it reads
/// the file in place. The files are named by their content's SHA-256, so the same graph is written once per machine and
/// user, and a file is never changed after it is written.
/// </summary>
internal static class OnnxModelFiles
{
    /// <summary>The folder of the graph files: <c>mlnet-flatdebias-onnx</c> in the temporary folder.</summary>
    public static string Folder => Path.Combine(Path.GetTempPath(), "mlnet-flatdebias-onnx");

    /// <summary>The path of a file holding exactly <paramref name="onnx"/>, written (to a temporary file, then renamed)
    /// when no such file exists or it was removed since.</summary>
    public static string PathFor(byte[] onnx)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        var folder = Folder;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, Convert.ToHexStringLower(SHA256.HashData(onnx)) + ".onnx");
        if (File.Exists(path) && new FileInfo(path).Length == onnx.Length) return path;
        var temporary = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        File.WriteAllBytes(temporary, onnx);
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    /// <summary>A file of its own holding <paramref name="onnx"/> (a fitted model's graph: unique to it), deleted when the
    /// returned object is disposed, finalized, or still alive when the process exits (<see cref="ExitCleanup"/>).</summary>
    public static OwnedTemporaryFile CreateOwned(byte[] onnx)
    {
        ArgumentNullException.ThrowIfNull(onnx);
        Directory.CreateDirectory(Folder);
        var path = Path.Combine(Folder, $"model-{Environment.ProcessId}-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, onnx);
        return ExitCleanup.Default.Register(new OwnedTemporaryFile(path));
    }
}

/// <summary>A temporary file that this object owns: deleted on <see cref="Dispose"/>, on finalization, and at exit.</summary>
internal sealed class OwnedTemporaryFile : IDisposable
{
    private int _deleted;

    public OwnedTemporaryFile(string path) => Path = path;

    ~OwnedTemporaryFile() => Delete();

    /// <summary>The file.</summary>
    public string Path { get; }

    public void Dispose()
    {
        Delete();
        GC.SuppressFinalize(this);
    }

    private void Delete()
    {
        if (Interlocked.Exchange(ref _deleted, 1) != 0) return;
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
