// MSBuild inline task (compiled by RoslynCodeTaskFactory): marks one GLIBCXX version requirement of
// libLibTorchSharp.so weak when the system libstdc++ lacks that version. See TorchSharpNative.targets.
using System;
using System.IO;
using System.Linq;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkGlibcxxVersionWeak : Task
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;
    private const string LibraryName = "libLibTorchSharp.so";

    private static readonly string[] SystemLibStdCxxCandidates =
    {
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/lib64/libstdc++.so.6",
        "/usr/lib/aarch64-linux-gnu/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    };

    [Required] public string Directory { get; set; } = "";
    [Required] public string VersionName { get; set; } = "";

    public override bool Execute()
    {
        if (!System.IO.Directory.Exists(Directory)) return true;
        var targets = System.IO.Directory.GetFiles(Directory, LibraryName, SearchOption.AllDirectories);
        if (targets.Length == 0) return true;

        var systemLibrary = SystemLibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (systemLibrary == null)
        {
            Log.LogMessage(MessageImportance.Low, "No system libstdc++.so.6 found; {0} left as it is.", LibraryName);
            return true;
        }
        if (ContainsAscii(File.ReadAllBytes(systemLibrary), VersionName))
        {
            Log.LogMessage(MessageImportance.Low, "{0} defines {1}; no patch needed.", systemLibrary, VersionName);
            return true;
        }

        foreach (var path in targets)
        {
            try
            {
                var bytes = File.ReadAllBytes(path);
                int changed = MarkWeak(bytes, VersionName, out bool alreadyWeak);
                if (changed > 0)
                {
                    // Keep the copy's timestamp: MSBuild's incremental copy (same size and time) then leaves the patched
                    // file alone on the next build instead of replacing it under a running process.
                    var stamp = File.GetLastWriteTimeUtc(path);
                    File.WriteAllBytes(path, bytes);
                    File.SetLastWriteTimeUtc(path, stamp);
                    Log.LogMessage(MessageImportance.Normal,
                        "Marked {0} weak in {1} ({2} lacks it).", VersionName, path, systemLibrary);
                }
                else if (!alreadyWeak)
                {
                    Log.LogMessage(MessageImportance.Low, "{0} does not require {1}.", path, VersionName);
                }
            }
            catch (Exception e)
            {
                Log.LogWarning("Could not patch {0} for {1}: {2}", path, VersionName, e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    private static bool ContainsAscii(byte[] haystack, string needle)
    {
        var pattern = Encoding.ASCII.GetBytes(needle);
        for (int i = 0; i + pattern.Length <= haystack.Length; i++)
        {
            int j = 0;
            while (j < pattern.Length && haystack[i + j] == pattern[j]) j++;
            if (j == pattern.Length) return true;
        }
        return false;
    }

    /// <summary>Sets VER_FLG_WEAK on every Vernaux entry named <paramref name="name"/>; returns how many changed.</summary>
    private static int MarkWeak(byte[] elf, string name, out bool alreadyWeak)
    {
        alreadyWeak = false;
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("only 64-bit little-endian ELF files are handled");

        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        int changed = 0;
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            uint type = BitConverter.ToUInt32(elf, sh + 4);
            if (type != ShtGnuVerneed) continue;
            int offset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            uint link = BitConverter.ToUInt32(elf, sh + 0x28);
            uint count = BitConverter.ToUInt32(elf, sh + 0x2C); // sh_info: number of Verneed entries
            int strSh = checked((int)shoff + (int)link * shentsize);
            int strOffset = checked((int)BitConverter.ToUInt64(elf, strSh + 0x18));

            int need = offset;
            for (uint n = 0; n < count; n++)
            {
                ushort auxCount = BitConverter.ToUInt16(elf, need + 2);
                uint auxOffset = BitConverter.ToUInt32(elf, need + 8);
                uint nextNeed = BitConverter.ToUInt32(elf, need + 12);
                int aux = need + (int)auxOffset;
                for (int a = 0; a < auxCount; a++)
                {
                    ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                    uint nameOffset = BitConverter.ToUInt32(elf, aux + 8);
                    uint nextAux = BitConverter.ToUInt32(elf, aux + 12);
                    if (ReadCString(elf, strOffset + (int)nameOffset) == name)
                    {
                        if ((flags & VerFlgWeak) != 0) alreadyWeak = true;
                        else
                        {
                            BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                            changed++;
                        }
                    }
                    if (nextAux == 0) break;
                    aux += (int)nextAux;
                }
                if (nextNeed == 0) break;
                need += (int)nextNeed;
            }
        }
        return changed;
    }

    private static string ReadCString(byte[] bytes, int start)
    {
        int end = start;
        while (end < bytes.Length && bytes[end] != 0) end++;
        return Encoding.ASCII.GetString(bytes, start, end - start);
    }
}
