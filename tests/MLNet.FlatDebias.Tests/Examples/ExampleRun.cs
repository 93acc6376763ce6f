using MLNet.FlatDebias.Tests.Infrastructure;
using System.Text.Json;
using Microsoft.ML;
using MLNet.FlatDebias.Tests.Transforms;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>One run of an example's entry point with its output captured.</summary>
internal sealed class ExampleRun : IDisposable
{
    private ExampleRun(TempFolder folder, int exitCode, string output)
    {
        Folder = folder;
        ExitCode = exitCode;
        Output = output;
    }

    public TempFolder Folder { get; }

    public int ExitCode { get; }

    public string Output { get; }

    /// <summary>Runs <paramref name="entry"/> with <paramref name="args"/> plus <c>--output</c> a fresh folder.</summary>
    public static ExampleRun Start(Func<string[], TextWriter, TextWriter?, int> entry, params string[] args)
    {
        var folder = new TempFolder("flatdebias-example");
        var output = new StringWriter();
        int code = entry([.. args, "--output", folder.Path], output, null);
        return new ExampleRun(folder, code, output.ToString());
    }

    public JsonDocument Results() => JsonDocument.Parse(File.ReadAllText(Folder.Combine("results.json")));

    /// <summary>The non-empty lines of the output.</summary>
    public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Loads a saved model as a user would.</summary>
    public ITransformer LoadModel(string file, out DataViewSchema schema) => new MLContext().Model.Load(Folder.Combine(file), out schema);

    /// <summary>A program's answer to a bad command line: exit code 2 and one line on its error stream, starting with
    /// <c>error: </c>, without a stack trace.</summary>
    public static void AssertOneLineError(int exitCode, string error)
    {
        Assert.Equal(2, exitCode);
        var line = error.TrimEnd();
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("error: ", line);
        Assert.DoesNotContain(" at ", line);
    }

    public void Dispose() => Folder.Dispose();
}
