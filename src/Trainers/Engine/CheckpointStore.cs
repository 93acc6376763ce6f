using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// Training checkpoints in a folder: one file per finished epoch (<c>checkpoint-epoch0003.fdck</c>), written to a
/// temporary file, flushed and renamed, so a crash or a full disk never leaves a half-written checkpoint under
/// the final name. Each file carries a format tag, the run's fingerprint (settings that must match to resume),
/// the payload length and a SHA-256 of the payload, so truncation and corruption are detected on reading.
/// The newest <c>keep</c> files are kept.
/// </summary>
internal sealed class CheckpointStore
{
    private const string Magic = "FDCKPT01";
    private const string Extension = ".fdck";
    private readonly int keep;

    public CheckpointStore(string directory, int keep)
    {
        Directory = directory;
        this.keep = keep;
    }

    public string Directory { get; }

    /// <summary>Creates the folder and checks that a file can be written there, before any training step.</summary>
    /// <exception cref="IOException">The folder cannot be created or written; the message names it.</exception>
    public void EnsureWritable()
    {
        string probe = Path.Combine(Directory, $".write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            File.WriteAllBytes(probe, [1, 2, 3]);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"The checkpoint folder '{Directory}' is not writable: {e.Message}", e);
        }
    }

    public string PathFor(int epoch) => Path.Combine(Directory, $"checkpoint-epoch{epoch.ToString("D4", CultureInfo.InvariantCulture)}{Extension}");

    /// <summary>Writes a checkpoint atomically and removes the oldest beyond the count to keep.</summary>
    /// <returns>The checkpoint's path.</returns>
    /// <exception cref="IOException">The write failed (e.g. a full disk); earlier checkpoints are untouched.</exception>
    public string Write(int epoch, string fingerprint, byte[] payload)
    {
        string path = PathFor(epoch);
        string temporary = path + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Encoding.ASCII.GetBytes(Magic));
                writer.Write(fingerprint);
                writer.Write(epoch);
                writer.Write((long)payload.Length);
                writer.Write(payload);
                writer.Write(SHA256.HashData(payload));
                writer.Flush();
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw new IOException($"Writing checkpoint '{path}' failed: {e.Message}. Earlier checkpoints in '{Directory}' are untouched.", e);
        }
        foreach (var old in List().Skip(keep)) TryDelete(old.Path);
        return path;
    }

    /// <summary>Checkpoint files, newest epoch first.</summary>
    public IReadOnlyList<(int Epoch, string Path)> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var result = new List<(int, string)>();
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "checkpoint-epoch*" + Extension))
        {
            var stem = Path.GetFileNameWithoutExtension(file)["checkpoint-epoch".Length..];
            if (int.TryParse(stem, NumberStyles.None, CultureInfo.InvariantCulture, out int epoch)) result.Add((epoch, file));
        }
        return result.OrderByDescending(r => r.Item1).ToList();
    }

    /// <summary>Reads and verifies one checkpoint file.</summary>
    /// <exception cref="InvalidDataException">The file is truncated, corrupted or not a checkpoint; the message names it.</exception>
    public static (string Fingerprint, int Epoch, byte[] Payload) Read(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            using var reader = new BinaryReader(stream, Encoding.UTF8);
            var magic = Encoding.ASCII.GetString(reader.ReadBytes(Magic.Length));
            if (magic != Magic) throw new InvalidDataException($"'{path}' is not a MLNet.FlatDebias training checkpoint.");
            string fingerprint = reader.ReadString();
            int epoch = reader.ReadInt32();
            long length = reader.ReadInt64();
            if (length < 0 || length > stream.Length - stream.Position - 32)
                throw new InvalidDataException($"Checkpoint '{path}' is truncated: it declares {length} bytes of state but the file is shorter.");
            var payload = reader.ReadBytes((int)length);
            var hash = reader.ReadBytes(32);
            if (hash.Length != 32 || !hash.AsSpan().SequenceEqual(SHA256.HashData(payload)))
                throw new InvalidDataException($"Checkpoint '{path}' is corrupted: its checksum does not match its contents.");
            return (fingerprint, epoch, payload);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' is truncated.", e);
        }
    }

    /// <summary>The newest checkpoint that reads back intact and has the given fingerprint; damaged files are
    /// skipped (and reported through <paramref name="skipped"/>), so the previous checkpoint is used.</summary>
    /// <exception cref="InvalidOperationException">The newest intact checkpoint belongs to a run with other settings.</exception>
    public (int Epoch, byte[] Payload, string Path)? LatestValid(string fingerprint, List<string> skipped)
    {
        foreach (var (_, path) in List())
        {
            try
            {
                var (found, epoch, payload) = Read(path);
                if (found != fingerprint)
                    throw new InvalidOperationException($"Checkpoint '{path}' was written by a run with other settings ({found}); this run is ({fingerprint}). Use another CheckpointDirectory or delete it.");
                return (epoch, payload, path);
            }
            catch (InvalidDataException e)
            {
                skipped.Add(e.Message);
            }
        }
        return null;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
