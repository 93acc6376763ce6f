using System.Globalization;

namespace MLNet.FlatDebias.Examples.FairBenchmark;

/// <summary>One method's search space: named distributions (the "all" line's first, then the method's own).</summary>
/// <param name="Method">The method's name.</param>
/// <param name="Parameters">Name and distribution, in file order; a method's own entry replaces an "all" entry of the same name.</param>
internal sealed record SearchSpace(string Method, IReadOnlyList<(string Name, Distribution Distribution)> Parameters)
{
    /// <summary>Reads every method's space from a file in the format <c>search-spaces.txt</c> documents.</summary>
    public static IReadOnlyDictionary<string, SearchSpace> Read(string path)
    {
        var lines = File.ReadAllLines(path).Select(l => l.Split('#')[0].Trim()).Where(l => l.Length > 0).ToList();
        var entries = new Dictionary<string, List<(string, Distribution)>>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 1) throw new FormatException($"{path}: '{line}' is not 'method: name ~ distribution; ...'.");
            var method = line[..colon].Trim();
            var parameters = new List<(string, Distribution)>();
            foreach (var part in line[(colon + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var pieces = part.Split('~', 2, StringSplitOptions.TrimEntries);
                if (pieces.Length != 2) throw new FormatException($"{path}: '{part}' (method {method}) is not 'name ~ distribution'.");
                parameters.Add((pieces[0], Distribution.Parse(pieces[1])));
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

    /// <summary>Draw <paramref name="draw"/> (1 and up) of this space: the same values for the same method and draw on every
    /// machine (a fixed generator seeded by the method's name and the draw).</summary>
    public IReadOnlyDictionary<string, double> Sample(int draw)
    {
        var random = new Random(StableHash(Method) ^ (draw * 7919));
        return Parameters.ToDictionary(p => p.Name, p => p.Distribution.Sample(random), StringComparer.Ordinal);
    }

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

/// <summary>A distribution of <c>search-spaces.txt</c>: loguniform, uniform, choice, or a mixture (<c>A | B</c>).</summary>
internal abstract record Distribution
{
    public abstract double Sample(Random random);

    public static Distribution Parse(string text)
    {
        var alternatives = text.Split('|', StringSplitOptions.TrimEntries);
        if (alternatives.Length > 1) return new Mixture([.. alternatives.Select(Parse)]);
        int open = text.IndexOf('(', StringComparison.Ordinal);
        if (open < 1 || !text.EndsWith(')')) throw new FormatException($"'{text}' is not a distribution: loguniform(a, b), uniform(a, b) or choice(a, ...).");
        var name = text[..open].Trim();
        var values = text[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries)
            .Select(v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
        return name switch
        {
            "loguniform" when values.Length == 2 && values[0] > 0 && values[1] >= values[0] => new LogUniform(values[0], values[1]),
            "uniform" when values.Length == 2 && values[1] >= values[0] => new Uniform(values[0], values[1]),
            "choice" when values.Length >= 1 => new Choice(values),
            _ => throw new FormatException($"'{text}': unknown distribution or bad bounds."),
        };
    }

    private sealed record LogUniform(double Low, double High) : Distribution
    {
        public override double Sample(Random random) => Math.Pow(10, Math.Log10(Low) + random.NextDouble() * (Math.Log10(High) - Math.Log10(Low)));
    }

    private sealed record Uniform(double Low, double High) : Distribution
    {
        public override double Sample(Random random) => Low + random.NextDouble() * (High - Low);
    }

    private sealed record Choice(double[] Values) : Distribution
    {
        public override double Sample(Random random) => Values[random.Next(Values.Length)];
    }

    private sealed record Mixture(Distribution[] Alternatives) : Distribution
    {
        public override double Sample(Random random) => Alternatives[random.Next(Alternatives.Length)].Sample(random);
    }
}
