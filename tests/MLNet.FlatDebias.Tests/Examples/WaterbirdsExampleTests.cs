using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Examples.Waterbirds;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The main job's program (examples/Waterbirds) in its --quick setting, as CI runs it.</summary>
[Collection(TorchCollection.Name)]
public sealed class WaterbirdsExampleTests
{
    private static readonly string[] Methods = ["ERM", "GroupDRO", "FlatDebias"];

    [Fact]
    public void QuickRunPrintsTheTableAndWritesResultsChartsAndModels()
    {
        using var run = ExampleRun.Start(WaterbirdsExample.Run, "--quick");

        Assert.True(run.ExitCode == 0, run.Output);
        // Table 1: one row per method with the paper's numbers beside, then the per-group table.
        Assert.Contains("| method ", run.Output);
        Assert.Single(run.Lines, l => l.StartsWith("| ERM ", StringComparison.Ordinal) && l.Contains("97.30", StringComparison.Ordinal));
        Assert.Single(run.Lines, l => l.StartsWith("| GroupDRO ", StringComparison.Ordinal) && l.Contains("86.00", StringComparison.Ordinal));
        Assert.Single(run.Lines, l => l.StartsWith("| FlatDebias (q=", StringComparison.Ordinal) && l.Contains("84.58", StringComparison.Ordinal));
        foreach (var group in new[] { "landbird/land", "landbird/water", "waterbird/land", "waterbird/water" })
            Assert.Contains(run.Lines, l => l.StartsWith($"| {group} ", StringComparison.Ordinal));
        // Plain epoch lines (the output is not a terminal).
        Assert.Contains(run.Lines, l => l.StartsWith("GroupDRO", StringComparison.Ordinal) && l.Contains("epoch 1/", StringComparison.Ordinal));

        using var results = run.Results();
        var methods = results.RootElement.GetProperty("methods").EnumerateArray().ToList();
        Assert.Equal(Methods, methods.Select(m => m.GetProperty("method").GetString()));
        foreach (var m in methods)
        {
            Assert.InRange(m.GetProperty("testWorstGroupAccuracy").GetDouble(), 0, 1);
            Assert.Equal(4, m.GetProperty("testGroups").GetArrayLength());
        }
        Assert.Equal(2, results.RootElement.GetProperty("epsilonSearch").GetArrayLength());
        Assert.Single(results.RootElement.GetProperty("epsilonSearch").EnumerateArray(), c => c.GetProperty("chosen").GetBoolean());

        foreach (var png in new[] { "group-accuracy.png", "validation-worst-group.png", "traces.png" })
        {
            var bytes = File.ReadAllBytes(run.Folder.Combine(png));
            Assert.True(bytes.Length > 1000, png);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], bytes[..4]);
        }

        // The saved models read image paths (preprocessing and network in one chain) and score the test split.
        var dataFolder = results.RootElement.GetProperty("dataFolder").GetString()!;
        var test = new MLContext().Data.TakeRows(new MLContext().Data.LoadWaterbirds(dataFolder, WaterbirdsSplit.Test), 8);
        foreach (var name in new[] { "erm.zip", "groupdro.zip", "flatdebias.zip" })
        {
            var model = run.LoadModel(name, out var schema);
            Assert.NotNull(schema.GetColumnOrNull(WaterbirdsColumns.ImagePath));
            var predicted = model.Transform(test).GetColumn<uint>("PredictedLabel").ToList();
            Assert.Equal(8, predicted.Count);
            Assert.All(predicted, p => Assert.InRange(p, 1u, 2u));
        }
    }

    [Theory]
    [InlineData("--epochs", "0")]
    [InlineData("--epochs", "many")]
    [InlineData("--quantiles", "1.5")]
    [InlineData("--network", "VGG")]
    [InlineData("--no-such-option")]
    [InlineData("--data", "/no/such/folder")]
    public void BadCommandLineGivesExitCode2AndOneLine(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = WaterbirdsExample.Run(args, output, error);

        ExampleRun.AssertOneLineError(code, error.ToString());
        Assert.DoesNotContain("error", output.ToString());
    }

    [Fact]
    public void HelpListsEveryOptionWithItsDefault()
    {
        var output = new StringWriter();
        Assert.Equal(0, WaterbirdsExample.Run(["--help"], output));
        var help = output.ToString();
        foreach (var option in new[] { "--data", "--pretrained", "--network", "--image-size", "--epochs", "--batch-size", "--learning-rate", "--optimizer", "--quantiles", "--seed", "--device", "--output", "--quick" })
            Assert.Contains(option, help);
        Assert.Contains("[default: out/waterbirds]", help);
        Assert.Contains("Default: 0.7 0.8 0.9", help);
    }
}
