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
return BenchmarkProgram.Run(args, Console.Out);
