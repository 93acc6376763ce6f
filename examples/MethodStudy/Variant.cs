using System.Globalization;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Fisher;

namespace MLNet.FlatDebias.Examples.MethodStudy;

/// <summary>
/// One setting of the study, written <c>name=method:key=value,key=value</c>, e.g.
/// <c>emp-head-p=flat:scope=head,est=empirical,grad=p,q=0.8</c>. Methods: <c>erm</c>, <c>dro</c>, <c>jtt</c> (at its library defaults), <c>flat</c>.
/// Keys for <c>flat</c>: scope (head|full), est (exact|sampled|empirical), grad (full|p|loss), q (quantile),
/// eps (absolute bound), warm (warm-up epochs), eta (dual step), max (dual cap), topk (a number or none), ref (model|warmup), use (penalty|sampling),
/// selwarm (true|false: may selection keep a warm-up epoch), scale (absolute|relative|excess: the violation in trace units, relative to the bound, or to the mean excess over it).
/// Keys for <c>dro</c>: step (group step size), c (generalisation adjustment), balanced (true|false).
/// </summary>
internal sealed record Variant(string Name, string Method, IReadOnlyDictionary<string, string> Settings)
{
    public static Variant Parse(string text)
    {
        var (name, rest) = Split(text, '=', text);
        var (method, settings) = Split(rest, ':', "");
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in settings.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var (key, value) = Split(pair, '=', "");
            values[key.Trim()] = value.Trim();
        }
        if (method is not ("erm" or "dro" or "flat" or "jtt")) throw new FormatException($"Unknown method '{method}' in variant '{text}' (erm, dro, jtt or flat).");
        return new Variant(name.Trim(), method, values);
    }

    public override string ToString() => $"{Name}={Method}" + (Settings.Count == 0 ? "" : ":" + string.Join(",", Settings.Select(kv => $"{kv.Key}={kv.Value}")));

    /// <summary>Trainer options for this variant on top of a set's base settings.</summary>
    public NetworkTrainerOptions Options(Action<NetworkTrainerOptions> baseSettings)
    {
        NetworkTrainerOptions options = Method switch
        {
            "erm" => new ErmTrainer.Options(),
            "dro" => new GroupDroTrainer.Options
            {
                GroupStepSize = Double("step", 0.01),
                GeneralizationAdjustment = Double("c", 0),
                GroupBalancedSampling = Settings.TryGetValue("balanced", out var b) && bool.Parse(b),
            },
            "jtt" => new JttTrainer.Options(),
            _ => new FlatDebiasTrainer.Options(),
        };
        baseSettings(options);
        if (options is FlatDebiasTrainer.Options flat)
        {
            if (Settings.TryGetValue("scope", out var scope)) flat.TraceScope = Enum.Parse<TraceScope>(scope, true);
            if (Settings.TryGetValue("est", out var est)) flat.TraceEstimator = Enum.Parse<TraceEstimator>(est, true);
            if (Settings.TryGetValue("grad", out var grad)) flat.TraceGradient = grad switch { "p" => TraceGradient.ProbabilitiesOnly, _ => Enum.Parse<TraceGradient>(grad, true) };
            if (Settings.TryGetValue("q", out _)) flat.TraceBoundQuantile = Double("q", 0.8);
            if (Settings.TryGetValue("eps", out _)) flat.TraceBound = Double("eps", 0);
            if (Settings.TryGetValue("warm", out var warm)) flat.WarmupEpochs = int.Parse(warm, CultureInfo.InvariantCulture);
            if (Settings.TryGetValue("eta", out _)) flat.DualLearningRate = Double("eta", 0.1);
            if (Settings.TryGetValue("max", out _)) flat.MaxDual = Double("max", 10);
            if (Settings.TryGetValue("topk", out var topk)) flat.TopK = topk == "none" ? null : int.Parse(topk, CultureInfo.InvariantCulture);
            if (Settings.TryGetValue("use", out var use)) flat.MultiplierUse = Enum.Parse<MultiplierUse>(use, true);
            if (Settings.TryGetValue("scale", out var unit)) flat.ViolationScale = unit switch
            {
                "absolute" => ViolationScale.Absolute,
                "relative" => ViolationScale.RelativeToBound,
                "excess" => ViolationScale.RelativeToMeanExcess,
                _ => throw new FormatException($"scale must be absolute, relative or excess, not '{unit}'"),
            };
            if (Settings.TryGetValue("selwarm", out var selwarm)) flat.SelectWarmupEpochs = bool.Parse(selwarm);
            if (Settings.TryGetValue("ref", out var reference)) flat.TraceReference = reference == "warmup" ? TraceReference.WarmupModel : TraceReference.TrainedModel;
        }
        return options;
    }

    private double Double(string key, double fallback)
        => Settings.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static (string, string) Split(string text, char separator, string fallback)
    {
        int i = text.IndexOf(separator);
        return i < 0 ? (text, fallback) : (text[..i], text[(i + 1)..]);
    }
}
