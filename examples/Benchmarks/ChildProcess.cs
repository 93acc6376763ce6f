using System.Diagnostics;
using System.Globalization;

namespace MLNet.FlatDebias.Benchmarks;

/// <summary>Starts this benchmark program again as a fresh process (a child command), for settings a process reads once
/// when libtorch loads (the OpenMP wait policy, oneDNN's instruction-set cap), and reads its <c>result key=value ...</c> line.</summary>
internal static class ChildProcess
{
    /// <summary>Starts <c>dotnet &lt;this program&gt; &lt;arguments&gt;</c> with <paramref name="remove"/> taken out of the
    /// inherited environment and then <paramref name="environment"/> applied (an empty value removes the variable); output
    /// and error are redirected.</summary>
    public static Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null, IEnumerable<string>? remove = null)
    {
        string program = typeof(ChildProcess).Assembly.Location;
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h
            : Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(program);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in remove ?? []) start.Environment.Remove(name);
        if (environment is not null)
            foreach (var (key, value) in environment)
            {
                if (value.Length == 0) start.Environment.Remove(key);
                else start.Environment[key] = value;
            }
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{host} {program}'.");
    }

    /// <summary>Runs a child to its end (at most <paramref name="timeout"/>) and returns its standard output and error.</summary>
    /// <exception cref="InvalidOperationException">It failed or ran past the timeout.</exception>
    public static (string Output, string Error) Run(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        using var process = Start(arguments, environment);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"The child process did not finish in {timeout.TotalMinutes:F0} minutes.");
        }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"The child process failed with exit code {process.ExitCode}: {output.Result}{error.Result}");
        return (output.Result, error.Result);
    }

    /// <summary>The values of the child's <c>result key=value key=value</c> lines.</summary>
    public static Dictionary<string, string> ResultValues(string text)
    {
        var values = text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("result ", StringComparison.Ordinal))
            .SelectMany(l => l["result ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        if (values.Count == 0) throw new InvalidOperationException($"The child printed no result line: {text}");
        return values;
    }

    /// <summary>A value as a double.</summary>
    public static double Number(this Dictionary<string, string> values, string key) => double.Parse(values[key], CultureInfo.InvariantCulture);
}
