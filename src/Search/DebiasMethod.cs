namespace MLNet.FlatDebias.Search;

/// <summary>The methods a <see cref="MethodSearch"/> can try; each is one of the library's trainers.</summary>
public enum DebiasMethod
{
    /// <summary>Empirical risk minimisation (<c>Erm</c>): the baseline, no debiasing.</summary>
    Erm,

    /// <summary>GroupDRO (<c>GroupDro</c>): needs the training rows' groups (without a group column, the classes).</summary>
    GroupDro,

    /// <summary>Just Train Twice (<c>Jtt</c>): upweights the rows a first ERM model gets wrong.</summary>
    Jtt,

    /// <summary>Per-sample gradient-norm sampling (<c>Pgd</c>) over a GCE-trained biased model.</summary>
    Pgd,

    /// <summary>Learning from Failure (<c>Lff</c>): a biased GCE model's relative difficulty weights the debiased one.</summary>
    Lff,

    /// <summary>Deep Feature Reweighting (<c>Dfr</c>): an ERM model's last layer re-fitted, group-balanced, on the held-out set.</summary>
    Dfr,

    /// <summary>Automatic Feature Reweighting (<c>Afr</c>): ERM on 80 % of the training rows, the last layer re-fitted on the rest.</summary>
    Afr,

    /// <summary>Diverse Prototypical Ensembles (<c>Dpe</c>): prototype heads over an ERM model, fitted on the held-out set.</summary>
    Dpe,

    /// <summary>FlatDebias (<c>FlatDebias</c>, ours) with the library's variant (a frozen warm-up model's per-row score).</summary>
    FlatDebias,

    /// <summary>FlatDebias with the paper's exact definition (<c>FlatDebiasTrainer.Options.PaperExact()</c>).</summary>
    FlatDebiasPaperExact,

    /// <summary>FlatDebias's last layer (ours, <c>FlatDebiasLastLayer</c>): AFR's protocol with per-row trace bounds.</summary>
    FlatDebiasLastLayer,
}

/// <summary>The methods' short names, as result files, search-space files and the benchmark write them
/// (<c>erm</c>, <c>groupdro</c>, <c>jtt</c>, <c>pgd</c>, <c>lff</c>, <c>dfr</c>, <c>afr</c>, <c>dpe</c>, <c>flatdebias</c>,
/// <c>flatdebias-paper</c>, <c>flatdebias-last</c>).</summary>
public static class DebiasMethodNames
{
    private static readonly (DebiasMethod Method, string Name)[] Names =
    [
        (DebiasMethod.Erm, "erm"), (DebiasMethod.GroupDro, "groupdro"), (DebiasMethod.Jtt, "jtt"), (DebiasMethod.Pgd, "pgd"),
        (DebiasMethod.Lff, "lff"), (DebiasMethod.Dfr, "dfr"), (DebiasMethod.Afr, "afr"), (DebiasMethod.Dpe, "dpe"),
        (DebiasMethod.FlatDebias, "flatdebias"), (DebiasMethod.FlatDebiasPaperExact, "flatdebias-paper"),
        (DebiasMethod.FlatDebiasLastLayer, "flatdebias-last"),
    ];

    /// <summary>Every method, in the order leaderboards and reports list them.</summary>
    public static IReadOnlyList<DebiasMethod> All { get; } = [.. Names.Select(n => n.Method)];

    /// <summary>The short name of <paramref name="method"/>, e.g. <c>flatdebias-paper</c>.</summary>
    /// <param name="method">A method.</param>
    /// <returns>Its short name.</returns>
    public static string Name(DebiasMethod method)
    {
        foreach (var (m, name) in Names)
            if (m == method) return name;
        throw new ArgumentOutOfRangeException(nameof(method), method, "Not a DebiasMethod.");
    }

    /// <summary>The method a short name names.</summary>
    /// <param name="name">A short name (<see cref="Name"/>).</param>
    /// <returns>The method.</returns>
    /// <exception cref="ArgumentException">No method has that name; the message lists the names.</exception>
    public static DebiasMethod Parse(string name)
    {
        foreach (var (m, n) in Names)
            if (n == name) return m;
        throw new ArgumentException($"Unknown method '{name}'; expected one of {string.Join(", ", Names.Select(n => n.Name))}.", nameof(name));
    }

    /// <summary>Whether <paramref name="method"/> trains without group labels: GroupDRO trains on the training groups, DFR
    /// and DPE fit on the held-out set's groups (each takes the classes as groups without a group column); the others use
    /// groups at most to choose an epoch, a grid point or a draw.</summary>
    /// <param name="method">A method.</param>
    /// <returns>True for every method but GroupDRO, DFR and DPE.</returns>
    public static bool TrainsWithoutGroupLabels(DebiasMethod method) => method is not (DebiasMethod.GroupDro or DebiasMethod.Dfr or DebiasMethod.Dpe);

    /// <summary>Whether <paramref name="method"/> fits on a held-out set (DFR and DPE): a search offers it only when it is
    /// given one (<see cref="MethodSearchOptions.HeldOutSet"/>).</summary>
    /// <param name="method">A method.</param>
    /// <returns>True for DFR and DPE.</returns>
    public static bool FitsOnHeldOutSet(DebiasMethod method) => method is DebiasMethod.Dfr or DebiasMethod.Dpe;
}
