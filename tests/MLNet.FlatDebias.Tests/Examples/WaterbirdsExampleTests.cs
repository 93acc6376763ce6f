using TorchSharp.PyBridge;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Examples.Waterbirds;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Waterbirds;
using MLNet.FlatDebias.Trainers.Networks;

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

    [Fact]
    public void Quick_frozen_backbone_run_trains_every_method_on_features_reuses_them_and_saves_models_that_score_image_paths()
    {
        using var cache = new TempFolder("flatdebias-features");
        using var first = ExampleRun.Start(WaterbirdsExample.Run, "--quick", "--frozen-backbone", "--feature-cache", cache.Path);
        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Equal(3, first.Lines.Count(l => l.Contains(" extracted ", StringComparison.Ordinal) && l.Contains("no feature file", StringComparison.Ordinal)));
        string[] methods = ["ERM", "GroupDRO", "FlatDebias", "FlatDebias paper-exact", "JTT", "PGD", "LfF", "DFR"];
        using var results = first.Results();
        var reported = results.RootElement.GetProperty("methods").EnumerateArray().ToList();
        Assert.Equal(methods, reported.Select(m => m.GetProperty("method").GetString()));
        Assert.Equal(4, results.RootElement.GetProperty("epsilonSearch").GetArrayLength()); // two bounds for each FlatDebias setting
        Assert.Contains("ImageNet ResNet-18", results.RootElement.GetProperty("extraction").GetProperty("backbone").GetString());

        // The saved ERM model goes from image paths to a label through preprocessing, backbone and head, and reproduces the
        // reported per-group test accuracy (the head's scores differ from TorchSharp's by float rounding, which can flip a
        // prediction only at a near-tie: one row per group is allowed).
        var dataFolder = results.RootElement.GetProperty("dataFolder").GetString()!;
        var ml = new MLContext();
        var test = ml.Data.LoadWaterbirds(dataFolder, WaterbirdsSplit.Test);
        var model = first.LoadModel("erm.zip", out var schema);
        Assert.NotNull(schema.GetColumnOrNull(WaterbirdsColumns.ImagePath));
        var scored = model.Transform(test);
        var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
        var labels = test.GetColumn<uint>(WaterbirdsColumns.Label).ToArray();
        var groups = test.GetColumn<uint>(WaterbirdsColumns.Group).ToArray();
        foreach (var group in reported[0].GetProperty("testGroups").EnumerateArray())
        {
            var name = group.GetProperty("group").GetString()!;
            int rows = group.GetProperty("rows").GetInt32();
            var index = GroupIndex(test, name);
            var inGroup = Enumerable.Range(0, labels.Length).Where(i => groups[i] == index).ToArray();
            Assert.Equal(rows, inGroup.Length);
            double accuracy = inGroup.Count(i => predicted[i] == labels[i]) / (double)rows;
            Assert.True(Math.Abs(accuracy - group.GetProperty("accuracy").GetDouble()) <= 1.0 / rows + Tolerance.CountRatio,
                $"{name}: the saved model's accuracy {accuracy} against the reported {group.GetProperty("accuracy").GetDouble()}");
        }

        // A second run reuses the three feature files.
        using var second = ExampleRun.Start(WaterbirdsExample.Run, "--quick", "--frozen-backbone", "--feature-cache", cache.Path);
        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Equal(3, second.Lines.Count(l => l.Contains(": reused ", StringComparison.Ordinal)));
        using var again = second.Results();
        Assert.Equal(reported[0].GetProperty("testWorstGroupAccuracy").GetDouble(),
            again.RootElement.GetProperty("methods")[0].GetProperty("testWorstGroupAccuracy").GetDouble()); // same features, same seed: same run

        // --search on the same features: every method's defaults once (--quick: 1 draw, seed 1 for the chosen one), the
        // leaderboard printed, the report written, and the chosen model scores image paths as its leaderboard entry says
        // (one row per group allowed, as above).
        using var search = ExampleRun.Start(WaterbirdsExample.Run, "--quick", "--frozen-backbone", "--search", "--feature-cache", cache.Path);
        Assert.True(search.ExitCode == 0, search.Output);
        Assert.Equal(3, search.Lines.Count(l => l.Contains(": reused ", StringComparison.Ordinal)));
        Assert.Equal(DebiasMethodNames.All.Count, search.Lines.Count(l => l.TrimStart().StartsWith("draws ", StringComparison.Ordinal) && l.Contains(" draw 0 seed 0 ", StringComparison.Ordinal)));
        Assert.Contains(search.Lines, l => l.StartsWith("| 1 | ", StringComparison.Ordinal) && l.Contains("(chosen)", StringComparison.Ordinal));
        Assert.True(File.Exists(search.Folder.Combine("search", "report.md")));
        var chosen = SearchTrial.FromCsv(File.ReadAllLines(search.Folder.Combine("search", "leaderboard.csv"))[1]);
        var saved = new MLContext().Model.Load(search.Folder.Combine("search", "chosen-model.zip"), out _);
        var searched = ml.MulticlassClassification.EvaluateGroups(saved.Transform(test), WaterbirdsColumns.Label, WaterbirdsColumns.Group);
        int smallest = searched.ByGroup.Min(g => g.RowCount);
        Assert.True(Math.Abs(searched.WorstGroupAccuracy - chosen.TestWorstGroup) <= 1.0 / smallest + Tolerance.CountRatio,
            $"the saved chosen model's test worst group {searched.WorstGroupAccuracy} against the leaderboard's {chosen.TestWorstGroup}");
    }

    [Fact]
    public void Quick_fine_tune_run_trains_every_method_from_imagenet_weights_measures_traces_and_resumes_from_its_folder()
    {
        using var first = ExampleRun.Start(WaterbirdsExample.Run, "--fine-tune", "--quick");
        Assert.True(first.ExitCode == 0, first.Output);
        string[] methods = ["ERM", "GroupDRO", "JTT", "FlatDebias", "FlatDebias paper-exact", "FlatDebias paper-exact, relative"];
        using var results = first.Results();
        var root = results.RootElement;
        var reported = root.GetProperty("methods").EnumerateArray().ToList();
        Assert.Equal(methods, reported.Select(m => m.GetProperty("method").GetString()));
        Assert.True(root.GetProperty("settings").GetProperty("fineTune").GetBoolean());
        Assert.Equal("Sgd", root.GetProperty("settings").GetProperty("optimizer").GetString());
        foreach (var m in reported)
        {
            Assert.InRange(m.GetProperty("testWorstGroupAccuracy").GetDouble(), 0, 1);
            Assert.Equal(4, m.GetProperty("testGroups").GetArrayLength());
            var traces = m.GetProperty("selectedTraces");
            Assert.True(traces.GetProperty("minorityRows").GetInt32() > 0 && traces.GetProperty("majorityRows").GetInt32() > 0);
            // A trace is >= 0, and exactly 0 where the softmax saturates: at this tiny scale FlatDebias's and the paper-exact
            // run's first constrained epoch (their third) blows the network up to one confident class, traces 0 in float32
            // (the fine-tuning study's finding, docs/method-study.md). ERM's network does not saturate.
            double median = traces.GetProperty("minorityMedian").GetDouble();
            Assert.True(median >= 0 && double.IsFinite(median), m.GetProperty("method").GetString());
            if (m.GetProperty("method").GetString() == "ERM") Assert.True(median > 0, "ERM's minority rows' median trace");
        }
        // Before fine-tuning, after its first epoch, and after a first epoch from a random start.
        Assert.Equal(3, root.GetProperty("startTraces").GetArrayLength());
        // The paper-exact run reports every epoch's traces of all training rows and the multipliers' pattern.
        var paper = reported[^2];
        Assert.Equal(0.8, paper.GetProperty("quantile").GetDouble());
        Assert.True(paper.GetProperty("traceBound").GetDouble() > 0);
        Assert.Equal(3, paper.GetProperty("trainingTraces").GetArrayLength());
        var multipliers = paper.GetProperty("multipliers").EnumerateArray().ToList();
        Assert.Equal(3, multipliers.Count);
        Assert.Equal(0, multipliers[0].GetProperty("majorityMean").GetDouble()); // the warm-up epoch has no multipliers
        Assert.InRange(multipliers[1].GetProperty("minorityWeightShare").GetDouble(), 0, 1);
        Assert.Contains(first.Lines, l => l.StartsWith("| FlatDebias paper-exact (q=0.8) ", StringComparison.Ordinal) && l.Contains("84.58", StringComparison.Ordinal));
        foreach (var png in new[] { "validation-worst-group.png", "traces.png" })
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(first.Folder.Combine(png))[..4]);

        // The saved models read image paths (preprocessing and the fine-tuned network in one chain).
        var dataFolder = root.GetProperty("dataFolder").GetString()!;
        var test = new MLContext().Data.TakeRows(new MLContext().Data.LoadWaterbirds(dataFolder, WaterbirdsSplit.Test), 4);
        var model = first.LoadModel(reported[0].GetProperty("modelFile").GetString()!, out var schema);
        Assert.NotNull(schema.GetColumnOrNull(WaterbirdsColumns.ImagePath));
        Assert.Equal(4, model.Transform(test).GetColumn<uint>("PredictedLabel").Count());

        // A second run with the same folder reuses every finished training; GroupDRO, whose result is removed, resumes
        // from its last checkpoint (no epoch left to train) and reports the same model.
        File.Delete(first.Folder.Combine(Path.Combine("runs", "groupdro", "unit.json")));
        var output = new StringWriter();
        Assert.Equal(0, WaterbirdsExample.Run(["--fine-tune", "--quick", "--output", first.Folder.Path], output));
        var lines = output.ToString().Split('\n');
        Assert.Equal(8, lines.Count(l => l.Contains("finished earlier, reused", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.Contains("epoch 1/", StringComparison.Ordinal));
        using var again = JsonDocument.Parse(File.ReadAllText(first.Folder.Combine("results.json")));
        // The same folder with other settings is refused, naming what differs, and nothing in it is touched.
        var refusal = new StringWriter();
        Assert.Equal(1, WaterbirdsExample.Run(["--fine-tune", "--quick", "--epochs", "4", "--output", first.Folder.Path], new StringWriter(), refusal));
        Assert.Contains("holds fine-tuning runs of other settings (epochs 3 there, 4 now)", refusal.ToString());
        for (int i = 0; i < methods.Length; i++)
            Assert.Equal(reported[i].GetProperty("testWorstGroupAccuracy").GetDouble(),
                again.RootElement.GetProperty("methods")[i].GetProperty("testWorstGroupAccuracy").GetDouble());
    }

    [Fact]
    public void Quick_fine_tune_run_starts_from_a_pretrained_weights_file_when_given_one()
    {
        var path = Path.Combine(Path.GetTempPath(), $"flatdebias-finetune-resnet18-{Guid.NewGuid():N}.safetensors");
        try
        {
            MLNet.FlatDebias.Runtime.TorchRuntime.SetSeed(3);
            using (var torchvisionResNet = TorchSharp.torchvision.models.resnet18(1000)) torchvisionResNet.save_safetensors(path);
            using var run = ExampleRun.Start(WaterbirdsExample.Run, "--fine-tune", "--quick", "--network", "ResNet18", "--pretrained", path, "--trace-rows", "2");
            Assert.True(run.ExitCode == 0, run.Output);
            Assert.Contains(run.Lines, l => l.Contains($"ResNet18 from {path}", StringComparison.Ordinal));
            using var results = run.Results();
            Assert.Equal(6, results.RootElement.GetProperty("methods").GetArrayLength());
            Assert.Equal(path, results.RootElement.GetProperty("settings").GetProperty("pretrainedWeights").GetString());
        }
        finally { File.Delete(path); }
    }

    private static uint GroupIndex(IDataView data, string name)
    {
        VBuffer<ReadOnlyMemory<char>> names = default;
        data.Schema[WaterbirdsColumns.Group].GetKeyValues(ref names);
        var values = names.DenseValues().Select(v => v.ToString()).ToList();
        return (uint)values.IndexOf(name) + 1;
    }

    [Theory]
    [InlineData("--network", "SmallCnn", "--frozen-backbone")]
    [InlineData("--backbone", "ResNet50")]
    [InlineData("--epochs", "0")]
    [InlineData("--epochs", "many")]
    [InlineData("--quantiles", "1.5")]
    [InlineData("--network", "VGG")]
    [InlineData("--no-such-option")]
    [InlineData("--data", "/no/such/folder")]
    [InlineData("--fine-tune", "--frozen-backbone")]
    [InlineData("--fine-tune", "--network", "SmallCnn")]
    [InlineData("--fine-tune", "--network", "ResNet50")]
    [InlineData("--search")]
    [InlineData("--frozen-backbone", "--draws", "2")]
    [InlineData("--frozen-backbone", "--search", "--draws", "0")]
    [InlineData("--frozen-backbone", "--search", "--draws", "2", "--time-budget", "5")]
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
        foreach (var option in new[] { "--data", "--pretrained", "--network", "--image-size", "--epochs", "--batch-size", "--learning-rate", "--optimizer", "--quantiles", "--seed", "--device", "--output", "--frozen-backbone", "--fine-tune", "--search", "--draws", "--time-budget", "--backbone", "--feature-cache", "--quick" })
            Assert.Contains(option, help);
        Assert.Contains("[default: out/waterbirds]", help);
        Assert.Contains("Default: 0.7 0.8 0.9", help);
    }
}
