namespace MLNet.FlatDebias.Search;

/// <summary>A claim on one training in a shared result folder, so that processes running the same search share its
/// trainings instead of repeating them: a file created exclusively beside the results and touched every
/// <see cref="Heartbeat"/> while the training runs. A claim not touched for <see cref="StaleAfter"/> belongs to a process
/// that died, and is taken over.</summary>
internal sealed class TrialClaim : IDisposable
{
    public static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(20);
    public static readonly TimeSpan StaleAfter = TimeSpan.FromSeconds(90);

    private readonly string _path;
    private readonly Timer _timer;

    private TrialClaim(string path)
    {
        _path = path;
        _timer = new Timer(_ => Touch(), null, Heartbeat, Heartbeat);
    }

    /// <summary>The claim file of a training.</summary>
    public static string PathOf(string folder, SearchTrialKey key) => Path.Combine(folder, $".{key.FileName}.claim");

    /// <summary>Claims a training, or returns null when a live process holds it.</summary>
    public static TrialClaim? TryTake(string folder, SearchTrialKey key)
    {
        var path = PathOf(folder, key);
        for (int attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
                using (var writer = new StreamWriter(stream))
                    writer.Write($"{Environment.MachineName} {Environment.ProcessId} {DateTime.UtcNow:O}");
                return new TrialClaim(path);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!IsStale(path)) return null;
                try { File.Delete(path); } catch (IOException) { return null; }
            }
        }
        return null;
    }

    /// <summary>Whether a claim file was last touched longer ago than <see cref="StaleAfter"/> (or is gone).</summary>
    public static bool IsStale(string path)
    {
        try
        {
            return !File.Exists(path) || DateTime.UtcNow - File.GetLastWriteTimeUtc(path) > StaleAfter;
        }
        catch (IOException)
        {
            return true;
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        try { File.Delete(_path); } catch (IOException) { }
    }

    private void Touch()
    {
        try { File.SetLastWriteTimeUtc(_path, DateTime.UtcNow); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
