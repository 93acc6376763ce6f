using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("MLNet.FlatDebias.Tests")]
[assembly: InternalsVisibleTo("MLNet.FlatDebias.Benchmarks")]
