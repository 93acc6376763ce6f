using MLNet.FlatDebias.Benchmarks;

// The OpenMP benchmark's child process: the switch that keeps the library from setting OMP_WAIT_POLICY must be set
// before the library is first used, so it is handled here, before anything else runs (and so is the case of an
// application that calls TorchSharp first).
if (args.Length > 0 && args[0] == OpenMpBenchmark.ChildCommand)
{
    if (args.Contains(OpenMpBenchmark.KeepFlag)) AppContext.SetSwitch("MLNet.FlatDebias.KeepOpenMpWaitPolicy", true);
    // An application that loads libtorch itself before it first uses the library: too late for the library's setting.
    if (args.Contains(OpenMpBenchmark.TorchFirstFlag)) TorchSharp.torch.ones(1).Dispose();
    return OpenMpBenchmark.RunChild(args[1..], Console.Out);
}
// The convolution guard benchmark's child: each configuration in its own process (oneDNN reads its instruction-set cap once,
// so a cap set through .NET is set here, before the library is first used).
if (args.Length > 0 && args[0] == BackendGuardBenchmark.ChildCommand)
{
    int cap = Array.IndexOf(args, BackendGuardBenchmark.CapThroughDotnetFlag);
    if (cap > 0 && cap + 1 < args.Length) Environment.SetEnvironmentVariable("DNNL_MAX_CPU_ISA", args[cap + 1]);
    return BackendGuardBenchmark.RunChild(args[1..], Console.Out);
}
return BenchmarkProgram.Run(args, Console.Out);
