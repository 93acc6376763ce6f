using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>How runs choose: with validation group labels (worst-group accuracy) or with none anywhere (worst-class accuracy;
/// the methods that need groups, GroupDRO, DFR and DPE, then take the classes as groups, as SubpopBench does).</summary>
internal enum SelectionRegime
{
    Groups,
    NoGroups,
}

/// <summary>The methods of the benchmark: each builds its trainer's options from a draw and fits.</summary>
internal static class BenchmarkMethods
{
    public static readonly string[] All = ["erm", "groupdro", "jtt", "pgd", "lff", "dfr", "afr", "dpe", "flatdebias", "flatdebias-paper", "flatdebias-last"];

    /// <summary>Whether a method trains without group labels (GroupDRO trains on the training groups, DFR and DPE fit on
    /// the validation groups, or on the classes in the regime without groups; the others use groups at most to choose an epoch, a grid point or a draw).</summary>
    public static bool TrainsWithoutGroupLabels(string method) => method is not ("groupdro" or "dfr" or "dpe");

    /// <summary>The library's defaults that <paramref name="method"/>'s draw 0 trains with, as text: every setting its own
    /// options class declares (not the shared network settings, which each set fixes, nor column names and seed), e.g.
    /// <c>DualLearningRate=0.08;MaxDual=84;...</c>. A result folder records it, so that results trained under other
    /// defaults are never taken for the current ones.</summary>
    public static string LibraryDefaults(string method) => method switch
    {
        "erm" => DeclaredSettings(new ErmTrainer.Options()),
        "groupdro" => DeclaredSettings(new GroupDroTrainer.Options()),
        "jtt" => DeclaredSettings(new JttTrainer.Options()),
        "pgd" => DeclaredSettings(new PgdTrainer.Options()),
        "lff" => DeclaredSettings(new LffTrainer.Options()),
        "dfr" => DeclaredSettings(new DfrTrainer.Options()),
        "afr" => DeclaredSettings(new AfrTrainer.Options()),
        "dpe" => DeclaredSettings(new DpeTrainer.Options()),
        "flatdebias-last" => DeclaredSettings(new FlatDebiasLastLayerTrainer.Options()),
        "flatdebias" => DeclaredSettings(new FlatDebiasTrainer.Options()),
        "flatdebias-paper" => DeclaredSettings(FlatDebiasTrainer.Options.PaperExact()),
        _ => throw new ArgumentException($"Unknown method '{method}'; expected one of {string.Join(", ", All)}."),
    };

    private static string DeclaredSettings(object options)
        => string.Join(";", options.GetType().GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.DeclaringType != typeof(NetworkTrainerOptions) && p.GetIndexParameters().Length == 0
                && !p.Name.EndsWith("ColumnName", StringComparison.Ordinal) && p.Name != "Seed")
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => $"{p.Name}={Text(p.GetValue(options))}"));

    private static string Text(object? value) => value switch
    {
        null => "null",
        double[] values => string.Join(",", values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))),
        IDataView => "set",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Fits <paramref name="method"/> on <paramref name="set"/> with a draw's values (empty: the library's defaults).</summary>
    public static ClassifierNetworkTransformer Fit(MLContext ml, StudySet set, string method, IReadOnlyDictionary<string, double> values,
        SelectionRegime regime, int seed, TrainingDevice device = TrainingDevice.Cpu)
    {
        var trainers = ml.MulticlassClassification.Trainers;
        int epochs = 0;
        void Shared(NetworkTrainerOptions o)
        {
            set.BaseSettings(o);
            epochs = o.NumberOfEpochs;
            o.Seed = seed;
            o.Device = device;
            o.ValidationSet = set.Validation;
            o.LabelColumnName = "Label";
            o.GroupColumnName = regime == SelectionRegime.Groups ? "Group" : null;
            o.ModelSelection = regime == SelectionRegime.Groups ? ModelSelection.ValidationWorstGroupAccuracy : ModelSelection.ValidationWorstClassAccuracy;
            if (values.TryGetValue("lr", out var lr)) o.LearningRate = lr;
            if (values.TryGetValue("wd", out var wd)) o.WeightDecay = wd;
        }
        T With<T>(T o) where T : NetworkTrainerOptions
        {
            Shared(o);
            return o;
        }
        double Get(string name, double fallback) => values.TryGetValue(name, out var v) ? v : fallback;
        int Clamp(double v, int max) => (int)Math.Clamp(Math.Round(v), 1, Math.Max(1, max));
        // Methods that need group labels take the classes when there are none.
        string groups = regime == SelectionRegime.Groups ? "Group" : "Label";

        switch (method)
        {
            case "erm":
                return trainers.Erm(With(new ErmTrainer.Options())).Fit(set.Train);
            case "groupdro":
            {
                var o = With(new GroupDroTrainer.Options());
                o.GroupColumnName = groups;
                o.GroupStepSize = Get("eta", o.GroupStepSize);
                return trainers.GroupDro(o).Fit(set.Train);
            }
            case "jtt":
            {
                var o = With(new JttTrainer.Options());
                o.FirstStageEpochs = Clamp(Get("T", o.FirstStageEpochs), epochs);
                o.UpweightFactor = Get("upweight", o.UpweightFactor);
                return trainers.Jtt(o).Fit(set.Train);
            }
            case "pgd":
            {
                var o = With(new PgdTrainer.Options());
                o.NormExponent = Get("r", o.NormExponent);
                o.GceQ = Get("q", o.GceQ);
                return trainers.Pgd(o).Fit(set.Train);
            }
            case "lff":
            {
                var o = With(new LffTrainer.Options());
                o.Q = Get("q", o.Q);
                return trainers.Lff(o).Fit(set.Train);
            }
            case "dfr":
            {
                using var erm = trainers.Erm(With(new ErmTrainer.Options())).Fit(set.Train);
                return trainers.Dfr(erm, new DfrTrainer.Options { LabelColumnName = "Label", GroupColumnName = groups, Seed = seed }).Fit(set.Validation);
            }
            case "dpe":
            {
                // As DFR: the ERM model on the training rows; the prototype ensemble on the validation rows (balanced by
                // group, or by class without groups), each member's epoch chosen on them too, as DPE's released code does.
                using var erm = trainers.Erm(With(new ErmTrainer.Options())).Fit(set.Train);
                var o = new DpeTrainer.Options { LabelColumnName = "Label", GroupColumnName = regime == SelectionRegime.Groups ? "Group" : null, Seed = seed };
                o.LearningRate = Get("head-lr", o.LearningRate);
                o.DiversityStrength = Get("diversity", o.DiversityStrength);
                return trainers.Dpe(erm, o).Fit(set.Validation);
            }
            case "afr":
            case "flatdebias-last":
            {
                // AFR's split as its released code makes it: the ERM model trains on 80 % of the training rows, the last layer
                // is re-fitted on the other 20 % (no group read); validation chooses the grid point and the epoch.
                var parts = ml.Data.TrainTestSplit(set.Train, testFraction: 0.2, seed: seed);
                using var erm = trainers.Erm(With(new ErmTrainer.Options())).Fit(parts.TrainSet);
                string? validationGroups = regime == SelectionRegime.Groups ? "Group" : null;
                LastLayerSearchOptions o = method == "afr" ? new AfrTrainer.Options() : new FlatDebiasLastLayerTrainer.Options();
                o.ValidationSet = set.Validation;
                o.GroupColumnName = validationGroups;
                o.LearningRate = Get("head-lr", o.LearningRate);
                if (o is FlatDebiasLastLayerTrainer.Options flat) flat.MaxDual = Get("cap", flat.MaxDual);
                return o is AfrTrainer.Options afr
                    ? trainers.Afr(erm, afr).Fit(parts.TestSet)
                    : trainers.FlatDebiasLastLayer(erm, (FlatDebiasLastLayerTrainer.Options)o).Fit(parts.TestSet);
            }
            case "flatdebias":
            case "flatdebias-paper":
            {
                var o = With(method == "flatdebias" ? new FlatDebiasTrainer.Options() : FlatDebiasTrainer.Options.PaperExact());
                o.TraceBoundQuantile = Get("quantile", o.TraceBoundQuantile);
                o.DualLearningRate = Get("dual-step", o.DualLearningRate);
                o.MaxDual = Get("cap", o.MaxDual);
                o.WarmupEpochs = Math.Min(Clamp(Get("warmup", o.WarmupEpochs), epochs), epochs - 1);
                if (values.TryGetValue("topk", out var k)) o.TopK = k < 1 ? null : (int)k;
                if (values.TryGetValue("scale", out var unit)) o.ViolationScale = unit < 0.5 ? ViolationScale.Absolute : ViolationScale.RelativeToBound;
                return trainers.FlatDebias(o).Fit(set.Train);
            }
            default:
                throw new ArgumentException($"Unknown method '{method}'; expected one of {string.Join(", ", All)}.");
        }
    }
}
