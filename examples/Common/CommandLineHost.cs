using System.CommandLine;
using System.Text.RegularExpressions;

namespace MLNet.FlatDebias.Examples;

/// <summary>A command-line value the parser accepted but the program cannot use (out of range, a missing folder):
/// reported as one line, exit code 2.</summary>
/// <param name="message">The line to print, naming the option.</param>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Runs an example's command line the same way in both programs: <c>--help</c> lists every option with its default,
/// a parse error or an invalid value prints one line and returns <see cref="UsageError"/>, a failure while running
/// prints one line (the message, no stack trace) and returns <see cref="RunError"/>.
/// </summary>
public static class CommandLineHost
{
    /// <summary>Exit code of a successful run.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a run that failed while working (bad data, training diverged).</summary>
    public const int RunError = 1;

    /// <summary>Exit code of a bad command line (unknown option, unparsable or out-of-range value).</summary>
    public const int UsageError = 2;

    /// <summary>Parses <paramref name="args"/> against <paramref name="command"/> and runs <paramref name="run"/> on success.</summary>
    /// <param name="command">The root command with its options.</param>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Where help and the program's output go.</param>
    /// <param name="error">Where the one-line errors go.</param>
    /// <param name="run">The program, given the parse result; returns the exit code. It may throw
    /// <see cref="UsageException"/> for invalid values.</param>
    /// <returns>The exit code.</returns>
    public static int Run(RootCommand command, string[] args, TextWriter output, TextWriter error, Func<ParseResult, int> run)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(run);
        var result = command.Parse(args);
        if (result.Errors.Count > 0) return Usage(error, result.Errors[0].Message);
        // The root command has no action of its own: an action here is --help or --version.
        if (result.Action is not null)
            return result.Invoke(new InvocationConfiguration { Output = output, Error = error });
        try
        {
            return run(result);
        }
        catch (UsageException e)
        {
            return Usage(error, e.Message);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or OperationCanceledException)
        {
            error.WriteLine($"error: {OneLine(e.Message)}");
            return RunError;
        }
    }

    /// <summary>A number option's value checked against a range; throws <see cref="UsageException"/> naming the option.</summary>
    public static T Check<T>(T value, string option, Func<T, bool> ok, string rule)
        => ok(value) ? value : throw new UsageException($"{option} {rule}; got {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)}.");

    private static int Usage(TextWriter error, string message)
    {
        error.WriteLine($"error: {OneLine(message)} (see --help)");
        return UsageError;
    }

    /// <summary>The message on one line: System.CommandLine lists accepted values on separate lines.</summary>
    private static string OneLine(string message)
    {
        var line = string.Join(" ", message.Split(['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.') + ".";
        // System.CommandLine names the .NET type a value failed to parse as; say it in words.
        line = Regex.Replace(line, @"System\.Nullable`1\[([^\]]+)\]", "$1");
        line = line.Replace("expected type 'System.Int32'", "an integer", StringComparison.Ordinal).Replace("expected type 'System.Double'", "a number", StringComparison.Ordinal);
        return Regex.Replace(line, @"expected type '(?:\w+\.)+(\w+)'", "expected type '$1'");
    }
}
