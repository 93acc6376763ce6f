using MLNet.FlatDebias.Benchmarks;

return BenchmarkProgram.Run(args, Console.Out);
