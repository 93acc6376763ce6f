using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace MLNet.FlatDebias.Runtime;

/// <summary>Where the OpenMP wait policy that libtorch's threads use came from (<see cref="TorchRuntime.OpenMpWaitPolicySource"/>).</summary>
public enum OpenMpWaitPolicySource
{
    /// <summary>The library set <c>OMP_WAIT_POLICY=PASSIVE</c> before libtorch loaded: idle threads sleep instead of spinning.</summary>
    SetByLibrary,

    /// <summary>The process already had <c>OMP_WAIT_POLICY</c> (from its environment, or set through
    /// <see cref="Environment.SetEnvironmentVariable(string, string)"/> before the library was first used); that value is kept.</summary>
    SetByUser,

    /// <summary>The AppContext switch <c>MLNet.FlatDebias.KeepOpenMpWaitPolicy</c> was on: the library left the variable alone.</summary>
    LeftAlone,

    /// <summary>libtorch's OpenMP runtime was already loaded (the application used TorchSharp before this library), so it
    /// had read its settings; nothing the library sets can change them any more.</summary>
    TooLate,

    /// <summary>Not a platform where the library sets native environment variables (only Linux and macOS are handled).</summary>
    NotHandled,
}

/// <summary>
/// Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment when the library is first used, before libtorch (and
/// its OpenMP runtime, which reads the variable once when it loads) is loaded, unless the user has set the variable.
/// </summary>
/// <remarks>
/// libtorch's OpenMP threads spin while they wait for work. On a machine shared with another busy process, spinning
/// threads take the cores that process needs and every epoch gets several times slower (measured here: 2.7x for two
/// trainings on 2 cores, up to 10x for one epoch); passive waiting leaves results unchanged. .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> changes only the managed copy of the environment on
/// Linux and macOS, which native <c>getenv</c> does not see, so the variable is written with libc's <c>setenv</c>.
/// A module initializer runs this before any other code of this assembly; it cannot help when the application loaded
/// libtorch itself first (any <c>TorchSharp.torch</c> call before the first use of this library): that case is
/// reported as <see cref="OpenMpWaitPolicySource.TooLate"/>.
/// </remarks>
internal static class OpenMpWaitPolicy
{
    /// <summary>The variable OpenMP reads.</summary>
    internal const string Variable = "OMP_WAIT_POLICY";

    /// <summary>The value the library sets.</summary>
    internal const string Passive = "PASSIVE";

    /// <summary>An AppContext switch (e.g. <c>&lt;RuntimeHostConfigurationOption&gt;</c> in the application's project) that
    /// keeps the library from touching the variable.</summary>
    internal const string KeepSwitch = "MLNet.FlatDebias.KeepOpenMpWaitPolicy";

    /// <summary>What happened when the library was first used.</summary>
    internal static OpenMpWaitPolicySource Source { get; private set; } = OpenMpWaitPolicySource.NotHandled;

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries",
        Justification = "OpenMP reads OMP_WAIT_POLICY once, when libtorch loads; only a module initializer runs early enough whatever the user calls first.")]
    internal static void ApplyBeforeLibtorchLoads()
    {
        if (AppContext.TryGetSwitch(KeepSwitch, out bool keep) && keep)
        {
            Source = OpenMpWaitPolicySource.LeftAlone;
            return;
        }
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return;
        if (NativeEnvironment.LibtorchAlreadyLoaded())
        {
            Source = OpenMpWaitPolicySource.TooLate;
            return;
        }
        // The managed environment holds both the inherited variables and those set through .NET: forward a user's
        // value to the native environment so that OpenMP sees what the user asked for.
        string? user = Environment.GetEnvironmentVariable(Variable);
        bool userValue = !string.IsNullOrEmpty(user);
        if (!userValue && !string.IsNullOrEmpty(NativeEnvironment.Get(Variable)))
        {
            Source = OpenMpWaitPolicySource.SetByUser; // set natively by the application itself
            return;
        }
        if (!NativeEnvironment.Set(Variable, userValue ? user! : Passive))
        {
            Source = OpenMpWaitPolicySource.NotHandled;
            return;
        }
        Source = userValue ? OpenMpWaitPolicySource.SetByUser : OpenMpWaitPolicySource.SetByLibrary;
    }

    /// <summary>The variable's value in the native environment (what OpenMP reads), or null.</summary>
    internal static string? NativeValue() => NativeEnvironment.Get(Variable);
}
