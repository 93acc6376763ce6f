using System.Buffers.Binary;
using System.Text;

namespace MLNet.FlatDebias.Runtime;

/// <summary>Reads the symbol-version requirements (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF file.</summary>
internal static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>True when the file requires <paramref name="versionName"/> without the weak flag.</summary>
    public static bool HasStrongRequirement(ReadOnlySpan<byte> elf, string versionName)
    {
        foreach (var (name, flags) in Requirements(elf))
            if (name == versionName && (flags & VerFlgWeak) == 0) return true;
        return false;
    }

    /// <summary>Every (version name, flags) pair of the file's Vernaux entries.</summary>
    public static List<(string Name, ushort Flags)> Requirements(ReadOnlySpan<byte> elf)
    {
        var result = new List<(string, ushort)>();
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F' || elf[4] != 2 || elf[5] != 1)
            return result;
        int shoff = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        for (int s = 0; s < shnum; s++)
        {
            int sh = shoff + s * shentsize;
            if (BinaryPrimitives.ReadUInt32LittleEndian(elf[(sh + 4)..]) != ShtGnuVerneed) continue;
            int offset = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(elf[(sh + 0x18)..]));
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(elf[(sh + 0x28)..]);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(elf[(sh + 0x2C)..]);
            int strings = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(elf[(shoff + link * shentsize + 0x18)..]));
            int need = offset;
            for (uint n = 0; n < count; n++)
            {
                int auxCount = BinaryPrimitives.ReadUInt16LittleEndian(elf[(need + 2)..]);
                int aux = need + (int)BinaryPrimitives.ReadUInt32LittleEndian(elf[(need + 8)..]);
                for (int a = 0; a < auxCount; a++)
                {
                    ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(elf[(aux + 4)..]);
                    int nameOffset = (int)BinaryPrimitives.ReadUInt32LittleEndian(elf[(aux + 8)..]);
                    result.Add((ReadCString(elf, strings + nameOffset), flags));
                    uint nextAux = BinaryPrimitives.ReadUInt32LittleEndian(elf[(aux + 12)..]);
                    if (nextAux == 0) break;
                    aux += (int)nextAux;
                }
                uint nextNeed = BinaryPrimitives.ReadUInt32LittleEndian(elf[(need + 12)..]);
                if (nextNeed == 0) break;
                need += (int)nextNeed;
            }
        }
        return result;
    }

    private static string ReadCString(ReadOnlySpan<byte> bytes, int start)
    {
        int end = bytes[start..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? bytes[start..] : bytes.Slice(start, end));
    }
}
