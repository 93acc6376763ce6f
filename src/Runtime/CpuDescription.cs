using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace MLNet.FlatDebias.Runtime;

/// <summary>The processor in one phrase, for messages and reports: model name and widest vector extension.</summary>
internal static class CpuDescription
{
    private static readonly Lazy<string> Text = new(Describe);

    /// <summary>For example <c>AMD EPYC 9B14, AVX-512 (avx512bw avx512f ...)</c>.</summary>
    public static string Current => Text.Value;

    private static string Describe()
    {
        string model = RuntimeInformation.ProcessArchitecture.ToString();
        var flags = new SortedSet<string>(StringComparer.Ordinal);
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    if (line.StartsWith("model name", StringComparison.Ordinal) && model == RuntimeInformation.ProcessArchitecture.ToString())
                        model = line[(line.IndexOf(':') + 1)..].Trim();
                    else if (line.StartsWith("flags", StringComparison.Ordinal))
                        foreach (var flag in line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                            if (flag.StartsWith("avx512", StringComparison.Ordinal)) flags.Add(flag);
                }
        }
        catch (IOException)
        {
        }
        string vector = Avx512F.IsSupported ? "AVX-512" : Avx2.IsSupported ? "AVX2" : "no AVX2";
        return flags.Count > 0 ? $"{model}, {vector} ({string.Join(' ', flags)})" : $"{model}, {vector}";
    }
}
