// The fair benchmark: every method the same tuning budget on every set, defaults judged on sets nobody tuned on.
// `--help` lists the options; docs/benchmark.md shows the results.
using MLNet.FlatDebias.Examples.FairBenchmark;

return FairBenchmarkProgram.Run(args, Console.Out);
