using System.Runtime.InteropServices;

namespace MLNet.FlatDebias.Runtime;

/// <summary>
/// The process's native environment, which libtorch's OpenMP runtime and oneDNN read with <c>getenv</c>. On Linux and
/// macOS .NET's <see cref="Environment.SetEnvironmentVariable(string, string)"/> changes only a managed copy that native
/// code does not see, so variables are written with libc's <c>setenv</c>; on Windows the managed call reaches the process
/// environment that native code reads.
/// </summary>
internal static class NativeEnvironment
{
    /// <summary>Sets <paramref name="name"/> for native readers (overwriting).</summary>
    /// <returns>False where it could not be set (no libc found).</returns>
    public static bool Set(string name, string value)
    {
        if (OperatingSystem.IsWindows())
        {
            Environment.SetEnvironmentVariable(name, value);
            return true;
        }
        try
        {
            return SetEnvironment(name, value, 1) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The value native code reads, or null.</summary>
    public static string? Get(string name)
    {
        if (OperatingSystem.IsWindows()) return Environment.GetEnvironmentVariable(name);
        try
        {
            var pointer = GetEnvironment(name);
            return pointer == IntPtr.Zero ? null : Marshal.PtrToStringUTF8(pointer);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return Environment.GetEnvironmentVariable(name);
        }
    }

    /// <summary>True when libtorch is already mapped into this process (Linux; false where that cannot be told), so that
    /// the settings its native libraries read when they start may already have been read.</summary>
    public static bool LibtorchAlreadyLoaded()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps)) return false;
        try
        {
            foreach (var line in File.ReadLines(maps))
                if (line.Contains("libtorch_cpu", StringComparison.Ordinal)) return true;
        }
        catch (IOException)
        {
        }
        return false;
    }

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi, ExactSpelling = true)]
    private static extern int SetEnvironment([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv", CharSet = CharSet.Ansi, ExactSpelling = true)]
    private static extern IntPtr GetEnvironment([MarshalAs(UnmanagedType.LPUTF8Str)] string name);
}
