using System.Text;
using System.Text.RegularExpressions;
using MLNet.FlatDebias.Tests.Packaging;

namespace MLNet.FlatDebias.Tests.Docs;

/// <summary>
/// The README and <c>docs/</c> as a reader meets them: the README stays a five-minute read (at most
/// <see cref="MaxReadmeBytes"/> bytes), every relative link and image in <c>README.md</c> and <c>docs/*.md</c> reaches
/// an existing file (and, with an anchor, an existing heading of that file, by GitHub's slug rule), and every page in
/// <c>docs/</c> begins, after its title, with a sentence saying what it is for. Failures name the file, the line and
/// the link. No libtorch: these tests read text only.
/// </summary>
public sealed partial class DocumentationLinkTests
{
    /// <summary>The README's budget: one or two screens of what it is, install, an example, the methods, links.</summary>
    private const int MaxReadmeBytes = 15_000;

    private static readonly string Root = PackageConsumerTests.RepositoryRoot();

    [Fact]
    public void The_readme_is_at_most_15000_bytes()
    {
        long size = new FileInfo(Path.Combine(Root, "README.md")).Length;
        Assert.True(size <= MaxReadmeBytes,
            $"README.md is {size} bytes; the budget is {MaxReadmeBytes}. Move depth to docs/ and link it.");
    }

    [Fact]
    public void Every_relative_link_in_the_readme_and_docs_points_to_an_existing_file_and_heading()
    {
        var problems = new List<string>();
        int checkedLinks = 0;
        foreach (var file in MarkdownFiles())
        {
            foreach (var link in Links(File.ReadAllText(file)))
            {
                checkedLinks++;
                if (Problem(file, link.Target) is { } problem)
                    problems.Add($"{Relative(file)}:{link.Line}: [{link.Text}]({link.Target}): {problem}");
            }
        }
        Assert.True(checkedLinks > 20, $"Only {checkedLinks} relative links found in README.md and docs/*.md: is the parser broken?");
        Assert.True(problems.Count == 0, $"{problems.Count} broken link(s):\n" + string.Join("\n", problems));
    }

    [Fact]
    public void Every_doc_starts_with_a_sentence_after_its_title()
    {
        var problems = new List<string>();
        var docs = Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").OrderBy(f => f, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(docs);
        foreach (var file in docs)
            if (OpeningProblem(File.ReadAllLines(file)) is ({ } line, { } problem))
                problems.Add($"{Relative(file)}:{line}: {problem}");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [InlineData("What happens when...", "what-happens-when")]
    [InlineData("GLIBCXX_3.4.32", "glibcxx_3432")]
    [InlineData("Threads, and training beside other work", "threads-and-training-beside-other-work")]
    [InlineData("Is FlatDebias JTT or PGD in all but name?", "is-flatdebias-jtt-or-pgd-in-all-but-name")]
    [InlineData("Why not `Microsoft.ML.TorchSharp`", "why-not-microsoftmltorchsharp")]
    [InlineData("FlatDebias's defaults, re-decided", "flatdebiass-defaults-re-decided")]
    [InlineData("The [fair benchmark](benchmark.md) on Slurm", "the-fair-benchmark-on-slurm")]
    public void Slugs_follow_githubs_rule(string heading, string slug) => Assert.Equal(slug, Slug(heading));

    [Fact]
    public void The_link_parser_finds_links_and_images_outside_code_only()
    {
        string text = string.Join("\n",
            "See [the guide](docs/user-guide.md#options) and ![a chart](docs/images/a.png \"title\").",
            "Not `[code](nowhere.md)`, not [a site](https://example.org), not [mail](mailto:a@b.c).",
            "```bash",
            "echo [inside](fenced.md)",
            "```",
            "[same page](#results)");
        var links = Links(text).ToList();
        Assert.Equal(
            new[] { (1, "docs/user-guide.md#options"), (1, "docs/images/a.png"), (6, "#results") },
            links.Select(l => (l.Line, l.Target)).ToArray());
        Assert.Equal(new[] { "results", "results-1" }, Anchors("## Results\n\n### Results\n\n```\n# not a heading\n```").ToArray());
    }

    private static IEnumerable<string> MarkdownFiles()
    {
        yield return Path.Combine(Root, "README.md");
        foreach (var file in Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").OrderBy(f => f, StringComparer.Ordinal))
            yield return file;
    }

    /// <summary>What is wrong with <paramref name="target"/> written in <paramref name="file"/>, or null when it resolves.</summary>
    private static string? Problem(string file, string target)
    {
        int hash = target.IndexOf('#', StringComparison.Ordinal);
        string path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        string? anchor = hash < 0 ? null : target[(hash + 1)..];
        string resolved = path.Length == 0 ? file : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, path));
        if (!resolved.StartsWith(Root, StringComparison.Ordinal))
            return $"'{path}' leaves the repository";
        if (!File.Exists(resolved) && !Directory.Exists(resolved))
            return $"no file '{Path.GetRelativePath(Root, resolved)}'";
        if (anchor is null || !resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
            return null;
        var anchors = Anchors(File.ReadAllText(resolved)).ToHashSet(StringComparer.Ordinal);
        return anchors.Contains(anchor) ? null
            : $"no heading '#{anchor}' in {Path.GetRelativePath(Root, resolved)} (its anchors: {string.Join(", ", anchors.Take(40))})";
    }

    /// <summary>The relative links and images of a Markdown text outside code (http, https and mailto left out), with their lines.</summary>
    private static IEnumerable<Link> Links(string text)
    {
        var lines = text.Split('\n');
        bool fenced = false;
        for (int i = 0; i < lines.Length; i++)
        {
            if (IsFence(lines[i]))
            {
                fenced = !fenced;
                continue;
            }
            if (fenced) continue;
            string line = InlineCode().Replace(lines[i], "code");
            foreach (Match m in LinkPattern().Matches(line))
            {
                string target = m.Groups["target"].Value;
                if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
                    || target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase))
                    continue;
                yield return new Link(i + 1, m.Groups["text"].Value, target);
            }
        }
    }

    /// <summary>The anchors GitHub gives the headings of a Markdown text, in order (a repeated slug gets -1, -2, ...).</summary>
    private static IEnumerable<string> Anchors(string text)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        bool fenced = false;
        foreach (var line in text.Split('\n'))
        {
            if (IsFence(line))
            {
                fenced = !fenced;
                continue;
            }
            if (fenced || HeadingPattern().Match(line) is not { Success: true } m) continue;
            string slug = Slug(m.Groups["text"].Value);
            if (seen.TryGetValue(slug, out int count))
            {
                seen[slug] = count + 1;
                yield return $"{slug}-{count + 1}";
            }
            else
            {
                seen[slug] = 0;
                yield return slug;
            }
        }
    }

    /// <summary>GitHub's anchor for a heading: link markup reduced to its text, lower case, spaces to '-', every other
    /// character but letters, digits, '-' and '_' removed.</summary>
    private static string Slug(string heading)
    {
        string text = LinkPattern().Replace(heading.Trim(), m => m.Groups["text"].Value);
        var slug = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_') slug.Append(c);
            else if (c == ' ') slug.Append('-');
        }
        return slug.ToString();
    }

    /// <summary>The line and the problem when the page does not open, after its '# ' title, with a sentence.</summary>
    private static (int? Line, string? Problem) OpeningProblem(string[] lines)
    {
        if (lines.Length == 0 || !lines[0].StartsWith("# ", StringComparison.Ordinal))
            return (1, "the page should start with a '# ' title line");
        int first = 1;
        while (first < lines.Length && lines[first].Trim().Length == 0) first++;
        if (first == lines.Length) return (1, "nothing after the title");
        string opening = lines[first].TrimStart();
        if (!char.IsUpper(opening[0]))
            return (first + 1, $"after the title, a sentence saying what the page is for should come first; found '{Shorten(opening)}'");
        var paragraph = new StringBuilder();
        for (int i = first; i < lines.Length && lines[i].Trim().Length > 0; i++) paragraph.Append(lines[i].Trim()).Append(' ');
        return SentenceEnd().IsMatch(paragraph.ToString())
            ? (null, null)
            : (first + 1, $"the first paragraph after the title has no sentence (no '.', '?' or '!' ending one): '{Shorten(opening)}'");
    }

    private static bool IsFence(string line)
    {
        string trimmed = line.TrimStart();
        return trimmed.StartsWith("```", StringComparison.Ordinal) || trimmed.StartsWith("~~~", StringComparison.Ordinal);
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";

    private static string Relative(string file) => Path.GetRelativePath(Root, file).Replace('\\', '/');

    private sealed record Link(int Line, string Text, string Target);

    // [text](target) or ![alt](target "title"); the text may hold brackets one level deep.
    [GeneratedRegex("""!?\[(?<text>(?:[^\[\]]|\[[^\[\]]*\])*)\]\((?<target>[^()\s]+)(?:\s+"[^"]*")?\)""")]
    private static partial Regex LinkPattern();

    [GeneratedRegex("`+[^`]*`+")]
    private static partial Regex InlineCode();

    [GeneratedRegex(@"^\s{0,3}#{1,6}\s+(?<text>.*?)(?:\s+#+)?\s*$")]
    private static partial Regex HeadingPattern();

    [GeneratedRegex(@"[.?!](\s|$)")]
    private static partial Regex SentenceEnd();
}
