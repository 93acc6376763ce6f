using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Search;

/// <summary>What every training of a search shares: the data, the columns, the regime and the network settings.</summary>
/// <param name="Train">The training rows.</param>
/// <param name="Validation">The rows that choose epochs and draws.</param>
/// <param name="HeldOut">The rows DFR and DPE fit on, or null.</param>
/// <param name="LabelColumnName">The label column.</param>
/// <param name="FeatureColumnName">The feature column.</param>
/// <param name="GroupColumnName">The group column the methods and the selection use (null in <see cref="SelectionRegime.NoGroups"/>).</param>
/// <param name="Regime">How the search chooses.</param>
/// <param name="Network">The settings every network trainer starts from, or null.</param>
/// <param name="Device">Where to train.</param>
internal sealed record SearchData(IDataView Train, IDataView Validation, IDataView? HeldOut, string LabelColumnName, string FeatureColumnName,
    string? GroupColumnName, SelectionRegime Regime, Action<NetworkTrainerOptions>? Network, TrainingDevice Device);

/// <summary>Builds one method's trainer from a draw's values and fits it: the one place a draw's names (<c>lr</c>,
/// <c>wd</c>, <c>eta</c>, <c>T</c>, <c>upweight</c>, <c>r</c>, <c>q</c>, <c>head-lr</c>, <c>diversity</c>, <c>cap</c>,
/// <c>quantile</c>, <c>dual-step</c>, <c>warmup</c>, <c>topk</c>, <c>scale</c>) become options.</summary>
internal static class MethodTrainerFactory
{
    /// <summary>Fits <paramref name="method"/> with a draw's values (empty: the library's defaults).</summary>
    public static ClassifierNetworkTransformer Fit(MLContext ml, SearchData data, DebiasMethod method, IReadOnlyDictionary<string, double> values,
        int seed, CancellationToken cancellationToken)
    {
        var trainers = ml.MulticlassClassification.Trainers;
        bool groups = data.Regime == SelectionRegime.Groups;
        // Methods that need group labels take the classes when there are none.
        string groupsOrClasses = groups ? data.GroupColumnName! : data.LabelColumnName;
        int epochs = 0;
        T With<T>(T o) where T : NetworkTrainerOptions
        {
            data.Network?.Invoke(o);
            epochs = o.NumberOfEpochs;
            o.Seed = seed;
            o.Device = data.Device;
            o.ValidationSet = data.Validation;
            o.LabelColumnName = data.LabelColumnName;
            o.FeatureColumnName = data.FeatureColumnName;
            o.GroupColumnName = groups ? data.GroupColumnName : null;
            o.ModelSelection = groups ? ModelSelection.ValidationWorstGroupAccuracy : ModelSelection.ValidationWorstClassAccuracy;
            o.CancellationToken = cancellationToken;
            if (values.TryGetValue("lr", out var lr)) o.LearningRate = lr;
            if (values.TryGetValue("wd", out var wd)) o.WeightDecay = wd;
            return o;
        }
        double Get(string name, double fallback) => values.TryGetValue(name, out var v) ? v : fallback;
        int Clamp(double v, int max) => (int)Math.Clamp(Math.Round(v), 1, Math.Max(1, max));
        IDataView HeldOut() => data.HeldOut ?? throw new InvalidOperationException($"{DebiasMethodNames.Name(method)} fits on a held-out set: set MethodSearchOptions.HeldOutSet.");

        switch (method)
        {
            case DebiasMethod.Erm:
                return trainers.Erm(With(new ErmTrainer.Options())).Fit(data.Train);
            case DebiasMethod.GroupDro:
            {
                var o = With(new GroupDroTrainer.Options());
                o.GroupColumnName = groupsOrClasses;
                o.GroupStepSize = Get("eta", o.GroupStepSize);
                return trainers.GroupDro(o).Fit(data.Train);
            }
            case DebiasMethod.Jtt:
            {
                var o = With(new JttTrainer.Options());
                o.FirstStageEpochs = Clamp(Get("T", o.FirstStageEpochs), epochs);
                o.UpweightFactor = Get("upweight", o.UpweightFactor);
                return trainers.Jtt(o).Fit(data.Train);
            }
            case DebiasMethod.Pgd:
            {
                var o = With(new PgdTrainer.Options());
                o.NormExponent = Get("r", o.NormExponent);
                o.GceQ = Get("q", o.GceQ);
                return trainers.Pgd(o).Fit(data.Train);
            }
            case DebiasMethod.Lff:
            {
                var o = With(new LffTrainer.Options());
                o.Q = Get("q", o.Q);
                return trainers.Lff(o).Fit(data.Train);
            }
            case DebiasMethod.Dfr:
            {
                var heldOut = HeldOut();
                using var erm = trainers.Erm(With(new ErmTrainer.Options())).Fit(data.Train);
                return trainers.Dfr(erm, new DfrTrainer.Options
                {
                    LabelColumnName = data.LabelColumnName, FeatureColumnName = data.FeatureColumnName, GroupColumnName = groupsOrClasses, Seed = seed,
                }).Fit(heldOut);
            }
            case DebiasMethod.Dpe:
            {
                // As DFR: the ERM model on the training rows; the prototype ensemble on the held-out rows (balanced by group, or by
                // class without groups), each member's epoch chosen on them too, as DPE's released code does.
                var heldOut = HeldOut();
                using var erm = trainers.Erm(With(new ErmTrainer.Options())).Fit(data.Train);
                var o = new DpeTrainer.Options
                {
                    LabelColumnName = data.LabelColumnName, FeatureColumnName = data.FeatureColumnName, GroupColumnName = groups ? data.GroupColumnName : null, Seed = seed,
                };
                o.LearningRate = Get("head-lr", o.LearningRate);
                o.DiversityStrength = Get("diversity", o.DiversityStrength);
                return trainers.Dpe(erm, o).Fit(heldOut);
            }
            case DebiasMethod.Afr:
            case DebiasMethod.FlatDebiasLastLayer:
            {
                // AFR's split as its released code makes it: the ERM model trains on 80 % of the training rows, the last layer is
                // re-fitted on the other 20 % (no group read); validation chooses the grid point and the epoch.
                var parts = ml.Data.TrainTestSplit(data.Train, testFraction: 0.2, seed: seed);
                using var erm = trainers.Erm(With(new ErmTrainer.Options())).Fit(parts.TrainSet);
                LastLayerSearchOptions o = method == DebiasMethod.Afr ? new AfrTrainer.Options() : new FlatDebiasLastLayerTrainer.Options();
                o.LabelColumnName = data.LabelColumnName;
                o.FeatureColumnName = data.FeatureColumnName;
                o.ValidationSet = data.Validation;
                o.GroupColumnName = groups ? data.GroupColumnName : null;
                o.LearningRate = Get("head-lr", o.LearningRate);
                if (o is FlatDebiasLastLayerTrainer.Options flat) flat.MaxDual = Get("cap", flat.MaxDual);
                return o is AfrTrainer.Options afr
                    ? trainers.Afr(erm, afr).Fit(parts.TestSet)
                    : trainers.FlatDebiasLastLayer(erm, (FlatDebiasLastLayerTrainer.Options)o).Fit(parts.TestSet);
            }
            case DebiasMethod.FlatDebias:
            case DebiasMethod.FlatDebiasPaperExact:
            {
                var o = With(method == DebiasMethod.FlatDebias ? new FlatDebiasTrainer.Options() : FlatDebiasTrainer.Options.PaperExact());
                o.TraceBoundQuantile = Get("quantile", o.TraceBoundQuantile);
                o.DualLearningRate = Get("dual-step", o.DualLearningRate);
                o.MaxDual = Get("cap", o.MaxDual);
                // The multipliers act from the second epoch after the warm-up; a schedule too short for that is refused by the trainer.
                o.WarmupEpochs = Math.Max(1, Math.Min(Clamp(Get("warmup", o.WarmupEpochs), epochs), epochs - 2));
                if (values.TryGetValue("topk", out var k)) o.TopK = k < 1 ? null : (int)k;
                if (values.TryGetValue("scale", out var unit)) o.ViolationScale = unit < 0.5 ? ViolationScale.Absolute : ViolationScale.RelativeToBound;
                return trainers.FlatDebias(o).Fit(data.Train);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(method), method, "Not a DebiasMethod.");
        }
    }
}
