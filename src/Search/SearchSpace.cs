using System.Globalization;

namespace MLNet.FlatDebias.Search;

/// <summary>
/// One method's search space: named distributions (the <c>all</c> line's first, then the method's own). Draw 0 is always
/// the method's library defaults; draw <c>d</c> (1 and up) is a fixed sample, the same for the same method and draw on
/// every machine, so a draw names one configuration on every data set. The library's spaces
/// (<see cref="Defaults"/>) are the fair benchmark's, read from <c>src/Search/search-spaces.txt</c>, whose header documents
/// the format and the names.
/// </summary>
/// <param name="Method">The method's short name (<see cref="DebiasMethodNames.Name"/>).</param>
/// <param name="Parameters">Name and distribution, in file order; a method's own entry replaces an <c>all</c> entry of the same name.</param>
public sealed record SearchSpace(string Method, IReadOnlyList<(string Name, SearchDistribution Distribution)> Parameters)
{
    private static readonly Lazy<IReadOnlyDictionary<string, SearchSpace>> Embedded = new(() => Parse(DefaultsText, "search-spaces.txt (the library's)"));

    /// <summary>The library's search spaces, every method's by short name: the fair benchmark's.</summary>
    public static IReadOnlyDictionary<string, SearchSpace> Defaults => Embedded.Value;

    /// <summary>The library's search spaces as text (the format <see cref="Parse"/> reads).</summary>
    public static string DefaultsText
    {
        get
        {
            using var stream = typeof(SearchSpace).Assembly.GetManifestResourceStream("MLNet.FlatDebias.Search.search-spaces.txt")
                ?? throw new InvalidOperationException("The library's search spaces (search-spaces.txt) are missing from the assembly.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
    }

    /// <summary>Reads every method's space from a file in the format of the library's <c>search-spaces.txt</c>.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Each method's space by short name.</returns>
    /// <exception cref="FormatException">A line is not <c>method: name ~ distribution; ...</c>; the message names the file and line.</exception>
    public static IReadOnlyDictionary<string, SearchSpace> Read(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Reads every method's space from text: lines <c>method: name ~ distribution; ...</c>, <c>#</c> comments,
    /// an <c>all</c> line shared by every method. Distributions: <c>loguniform(a, b)</c>, <c>uniform(a, b)</c>,
    /// <c>choice(a, ...)</c>, and <c>A | B</c> (one of them, equally likely).</summary>
    /// <param name="text">The text.</param>
    /// <param name="source">What to name in errors (a file name).</param>
    /// <returns>Each method's space by short name.</returns>
    /// <exception cref="FormatException">A malformed line, naming <paramref name="source"/>.</exception>
    public static IReadOnlyDictionary<string, SearchSpace> Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Split('\n').Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).ToList();
        var entries = new Dictionary<string, List<(string, SearchDistribution)>>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 1) throw new FormatException($"{source}: '{line}' is not 'method: name ~ distribution; ...'.");
            var method = line[..colon].Trim();
            var parameters = new List<(string, SearchDistribution)>();
            foreach (var part in line[(colon + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var pieces = part.Split('~', 2, StringSplitOptions.TrimEntries);
                if (pieces.Length != 2) throw new FormatException($"{source}: '{part}' (method {method}) is not 'name ~ distribution'.");
                parameters.Add((pieces[0], SearchDistribution.Parse(pieces[1])));
            }
            entries[method] = parameters;
        }
        var shared = entries.GetValueOrDefault("all") ?? [];
        return entries.Where(e => e.Key != "all").ToDictionary(e => e.Key, e =>
        {
            var own = e.Value.Select(p => p.Item1).ToHashSet(StringComparer.Ordinal);
            return new SearchSpace(e.Key, [.. shared.Where(p => !own.Contains(p.Item1)), .. e.Value]);
        }, StringComparer.Ordinal);
    }

    /// <summary>Draw <paramref name="draw"/> of this space: empty for draw 0 (every option at the library's default), else
    /// the same values for the same method and draw on every machine (a fixed generator seeded by the method's name and the draw).</summary>
    /// <param name="draw">0 and up.</param>
    /// <returns>Each parameter's value by name.</returns>
    public IReadOnlyDictionary<string, double> Sample(int draw)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(draw);
        if (draw == 0) return new Dictionary<string, double>(StringComparer.Ordinal);
        var random = new Random(StableHash(Method) ^ (draw * 7919));
        return Parameters.ToDictionary(p => p.Name, p => p.Distribution.Sample(random), StringComparer.Ordinal);
    }

    /// <summary>A draw's values as text, e.g. <c>lr=0.00123;wd=1.2e-05</c> (<c>defaults</c> for draw 0's empty values).</summary>
    /// <param name="values">A draw's values.</param>
    /// <returns>The text result files and reports show.</returns>
    public static string Describe(IReadOnlyDictionary<string, double> values)
        => values.Count == 0 ? "defaults" : string.Join(";", values.Select(v => $"{v.Key}={v.Value.ToString("G3", CultureInfo.InvariantCulture)}"));

    private static int StableHash(string text)
    {
        unchecked
        {
            int hash = (int)2166136261;
            foreach (char c in text) hash = (hash ^ c) * 16777619;
            return hash & 0x7fffffff;
        }
    }
}

/// <summary>A distribution of a search space: loguniform, uniform, choice, or a mixture (<c>A | B</c>).</summary>
public abstract record SearchDistribution
{
    /// <summary>One value.</summary>
    /// <param name="random">The generator.</param>
    /// <returns>The value.</returns>
    public abstract double Sample(Random random);

    /// <summary>Reads <c>loguniform(a, b)</c>, <c>uniform(a, b)</c>, <c>choice(a, ...)</c> or <c>A | B</c>.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The distribution.</returns>
    /// <exception cref="FormatException">Not one of those, or bad bounds.</exception>
    public static SearchDistribution Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var alternatives = text.Split('|', StringSplitOptions.TrimEntries);
        if (alternatives.Length > 1) return new Mixture([.. alternatives.Select(Parse)]);
        int open = text.IndexOf('(', StringComparison.Ordinal);
        if (open < 1 || !text.EndsWith(')')) throw new FormatException($"'{text}' is not a distribution: loguniform(a, b), uniform(a, b) or choice(a, ...).");
        var name = text[..open].Trim();
        var values = text[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries)
            .Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
                : throw new FormatException($"'{text}': '{v}' is not a number.")).ToArray();
        return name switch
        {
            "loguniform" when values.Length == 2 && values[0] > 0 && values[1] >= values[0] => new LogUniform(values[0], values[1]),
            "uniform" when values.Length == 2 && values[1] >= values[0] => new Uniform(values[0], values[1]),
            "choice" when values.Length >= 1 => new Choice(values),
            _ => throw new FormatException($"'{text}': unknown distribution or bad bounds."),
        };
    }

    private sealed record LogUniform(double Low, double High) : SearchDistribution
    {
        public override double Sample(Random random) => Math.Pow(10, Math.Log10(Low) + random.NextDouble() * (Math.Log10(High) - Math.Log10(Low)));
    }

    private sealed record Uniform(double Low, double High) : SearchDistribution
    {
        public override double Sample(Random random) => Low + random.NextDouble() * (High - Low);
    }

    private sealed record Choice(double[] Values) : SearchDistribution
    {
        public override double Sample(Random random) => Values[random.Next(Values.Length)];
    }

    private sealed record Mixture(SearchDistribution[] Alternatives) : SearchDistribution
    {
        public override double Sample(Random random) => Alternatives[random.Next(Alternatives.Length)].Sample(random);
    }
}
