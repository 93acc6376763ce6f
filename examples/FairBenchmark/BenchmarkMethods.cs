using Microsoft.ML;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>The benchmark as a user of the library's method search: on each set and regime, one <see cref="MethodSearch"/>
/// (named by the set) trains the configurations the benchmark plans.</summary>
internal static class BenchmarkMethods
{
    /// <summary>Every method's short name, in the benchmark's order.</summary>
    public static readonly string[] All = [.. DebiasMethodNames.All.Select(DebiasMethodNames.Name)];

    /// <summary>Whether a method trains without group labels (<see cref="DebiasMethodNames.TrainsWithoutGroupLabels"/>).</summary>
    public static bool TrainsWithoutGroupLabels(string method) => DebiasMethodNames.TrainsWithoutGroupLabels(DebiasMethodNames.Parse(method));

    /// <summary>The search for <paramref name="set"/> under <paramref name="regime"/>: the set's network settings; DFR and DPE
    /// fit on the validation split (the benchmark compares each method's draws, never methods with each other, so that their
    /// validation scores are optimistic changes no choice); groups reported on test and validation in both regimes.</summary>
    public static MethodSearch Search(StudySet set, IReadOnlyDictionary<string, SearchSpace> spaces, SelectionRegime regime, TrainingDevice device)
        => new MLContext(0).MulticlassClassification.CreateMethodSearch(new MethodSearchOptions
        {
            Name = set.Name,
            LabelColumnName = "Label",
            FeatureColumnName = "Features",
            GroupColumnName = regime == SelectionRegime.Groups ? "Group" : null,
            ReportGroupColumnName = "Group",
            Selection = regime,
            SearchSpaces = spaces,
            Network = set.BaseSettings,
            HeldOutSet = set.Validation,
            TestSet = set.Test,
            Device = device,
        });
}
