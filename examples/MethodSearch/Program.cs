// Pick the method for me: the library's method search on a small feature set of my own (a CSV: two features, a label,
// a group), the chosen model saved, loaded in a fresh MLContext and used through a PredictionEngine.
// `dotnet run -c Release --project examples/MethodSearch -- [folder] [draws]`; docs/method-search.md walks through it.
using MLNet.FlatDebias.Examples.MethodSearch;

return MethodSearchClient.Run(args.Length > 0 ? args[0] : Path.Combine("out", "method-search-client"),
    args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 4, Console.Out);
