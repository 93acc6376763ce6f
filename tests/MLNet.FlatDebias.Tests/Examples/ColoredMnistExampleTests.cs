using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Examples.ColoredMnist;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Tests.Transforms;
using MLNet.FlatDebias.Datasets.Mnist;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The Coloured MNIST program (examples/ColoredMnist) in its --quick setting.</summary>
[Collection(TorchCollection.Name)]
public sealed class ColoredMnistExampleTests
{
    [Fact]
    public void QuickRunPrintsTheTableAndWritesResultsChartsAndModels()
    {
        using var run = ExampleRun.Start(ColoredMnistExample.Run, "--quick");

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains("| conflicting ", run.Output);
        Assert.Single(run.Lines, l => l.StartsWith("| 5 %", StringComparison.Ordinal) && l.Contains("| ERM ", StringComparison.Ordinal));
        Assert.Single(run.Lines, l => l.StartsWith("| 5 %", StringComparison.Ordinal) && l.Contains("| GroupDRO ", StringComparison.Ordinal));
        Assert.Single(run.Lines, l => l.StartsWith("| 5 %", StringComparison.Ordinal) && l.Contains("| FlatDebias (q=", StringComparison.Ordinal));

        using var results = run.Results();
        var experiment = Assert.Single(results.RootElement.GetProperty("experiments").EnumerateArray());
        Assert.Equal(0.05, experiment.GetProperty("conflictingShare").GetDouble());
        Assert.Equal(["ERM", "GroupDRO", "FlatDebias"], experiment.GetProperty("methods").EnumerateArray().Select(m => m.GetProperty("method").GetString()));

        foreach (var png in new[] { "unbiased-accuracy.png", "worst-group-accuracy.png", "validation-share-0.05.png", "traces-share-0.05.png" })
            Assert.True(new FileInfo(run.Folder.Combine(png)).Length > 1000, png);

        var mnist = MnistDataset.Load();
        var test = ColoredMnist.Create(mnist, 0.05, seed: 1, trainSize: 10, validationSize: 10, testSize: 16).Test.DataView;
        foreach (var name in new[] { "erm-share-0.05.zip", "groupdro-share-0.05.zip", "flatdebias-share-0.05.zip" })
        {
            var model = run.LoadModel(name, out _);
            var predicted = model.Transform(test).GetColumn<uint>("PredictedLabel").ToList();
            Assert.Equal(16, predicted.Count);
            Assert.All(predicted, p => Assert.InRange(p, 1u, 10u));
        }
    }

    [Theory]
    [InlineData("--conflicting", "2")]
    [InlineData("--epochs", "1")]
    [InlineData("--train-size", "many")]
    [InlineData("--quick", "--train-size", "100", "--conflicting", "0.005")]
    public void BadCommandLineGivesExitCode2AndOneLine(params string[] args)
    {
        using var folder = new TempFolder("flatdebias-example");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = ColoredMnistExample.Run([.. args, "--output", folder.Path], output, error);

        ExampleRun.AssertOneLineError(code, error.ToString());
        Assert.DoesNotContain("error", output.ToString());
    }
}
