using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.LastLayer;

namespace MLNet.FlatDebias.Search;

/// <summary>Each method's library defaults as text, so that a result folder can tell whether its draw-0 results were
/// trained with the current defaults.</summary>
internal static class MethodDefaults
{
    /// <summary>The library's defaults that <paramref name="method"/>'s draw 0 trains with: every setting its own options
    /// class declares (not the shared network settings, which the search's data fixes, nor column names and seed), e.g.
    /// <c>DualLearningRate=0.08;MaxDual=84;...</c>.</summary>
    public static string Describe(DebiasMethod method) => method switch
    {
        DebiasMethod.Erm => DeclaredSettings(new ErmTrainer.Options()),
        DebiasMethod.GroupDro => DeclaredSettings(new GroupDroTrainer.Options()),
        DebiasMethod.Jtt => DeclaredSettings(new JttTrainer.Options()),
        DebiasMethod.Pgd => DeclaredSettings(new PgdTrainer.Options()),
        DebiasMethod.Lff => DeclaredSettings(new LffTrainer.Options()),
        DebiasMethod.Dfr => DeclaredSettings(new DfrTrainer.Options()),
        DebiasMethod.Afr => DeclaredSettings(new AfrTrainer.Options()),
        DebiasMethod.Dpe => DeclaredSettings(new DpeTrainer.Options()),
        DebiasMethod.FlatDebiasLastLayer => DeclaredSettings(new FlatDebiasLastLayerTrainer.Options()),
        DebiasMethod.FlatDebias => DeclaredSettings(new FlatDebiasTrainer.Options()),
        DebiasMethod.FlatDebiasPaperExact => DeclaredSettings(FlatDebiasTrainer.Options.PaperExact()),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Not a DebiasMethod."),
    };

    private static string DeclaredSettings(object options)
        => string.Join(";", options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.DeclaringType != typeof(NetworkTrainerOptions) && p.GetIndexParameters().Length == 0
                && !p.Name.EndsWith("ColumnName", StringComparison.Ordinal) && p.Name != "Seed")
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .Select(p => $"{p.Name}={Text(p.GetValue(options))}"));

    private static string Text(object? value) => value switch
    {
        null => "null",
        double[] values => string.Join(",", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))),
        IDataView => "set",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
