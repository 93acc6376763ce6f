using System.Runtime.CompilerServices;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>
/// Runs the library's module initializers when the test assembly loads, before any test can call TorchSharp itself: the
/// library sets its native environment (the OpenMP wait policy; a oneDNN cap set through .NET, forwarded) before
/// libtorch starts, as it does in an application that uses it first. Without this, whichever test ran first would decide.
/// </summary>
internal static class TestHostSetup
{
    [ModuleInitializer]
    internal static void LibraryFirst() => RuntimeHelpers.RunModuleConstructor(typeof(TorchRuntime).Module.ModuleHandle);
}
