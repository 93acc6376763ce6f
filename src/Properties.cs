using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("MLNet.FlatDebias.Tests")]
