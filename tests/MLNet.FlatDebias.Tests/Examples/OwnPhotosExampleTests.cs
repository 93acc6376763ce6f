using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Examples.OwnPhotos;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The own-photos program (examples/OwnPhotos): its demo folder in the --quick setting, and a user's folder with
/// a CSV of relative paths, run from another working directory, an image overwritten between two runs.</summary>
[Collection(TorchCollection.Name)]
public sealed class OwnPhotosExampleTests
{
    [Fact]
    public void Quick_demo_run_trains_evaluates_saves_and_scores_from_another_folder()
    {
        using var run = ExampleRun.Start(OwnPhotosExample.Run, "--quick", "--device", "Cpu");

        Assert.True(run.ExitCode == 0, run.Output);
        Assert.Contains(run.Lines, l => l.StartsWith("FlatDebias", StringComparison.Ordinal) && l.Contains("epoch 5/5", StringComparison.Ordinal)
            && l.Contains("(bound ", StringComparison.Ordinal) && l.Contains("active ", StringComparison.Ordinal));
        foreach (var group in new[] { "circle/sky", "circle/grass", "square/sky", "square/grass" })
            Assert.Contains(run.Lines, l => l.StartsWith(group + " ", StringComparison.Ordinal));
        Assert.Contains("its image folder: none (paths as given)", run.Output);

        using var results = run.Results();
        var root = results.RootElement;
        Assert.True(root.GetProperty("demo").GetBoolean());
        Assert.Equal([8, 8, 8], root.GetProperty("rows").EnumerateObject().Select(p => p.Value.GetInt32()));
        Assert.All(root.GetProperty("featureFiles").EnumerateArray(), f => Assert.StartsWith("no feature file", f.GetProperty("reason").GetString()));
        Assert.Equal(4, root.GetProperty("testGroups").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, Assert.Single(root.GetProperty("savedImageFolders").EnumerateArray()).ValueKind);
        var scoring = root.GetProperty("scoring");
        Assert.Equal(8, scoring.GetProperty("images").GetInt32());
        Assert.Equal(8, scoring.GetProperty("sameLabel").GetInt32());
        Assert.Equal(run.Folder.Combine("deployed"), scoring.GetProperty("folder").GetString());

        // The saved chain, loaded as a user would with the folder the images were moved to, labels an image path.
        var ml = new MLContext();
        var model = ml.Model.LoadWithImageFolder(run.Folder.Combine(OwnPhotosExample.ModelFile), run.Folder.Combine("deployed"), out var schema);
        Assert.NotNull(schema.GetColumnOrNull("ImagePath"));
        var engine = ml.Model.CreatePredictionEngine<OwnPhotosExample.Photo, OwnPhotosExample.PhotoPrediction>(model);
        var example = scoring.GetProperty("example").GetString()!.Split(" -> ");
        var prediction = engine.Predict(new OwnPhotosExample.Photo { ImagePath = example[0] });
        Assert.Equal(example[1], prediction.PredictedLabel);
        Assert.Equal(2, prediction.Score.Length);
        Assert.InRange(prediction.Score.Sum(), 0.999f, 1.001f);
    }

    /// <summary>The user's report, end to end: a photo folder with a CSV of relative paths, the program run from another
    /// folder with a relative --csv; a test image overwritten with another picture; the next run (DFR this time) reuses the
    /// training and validation features and makes the test features again, saying the dataset changed.</summary>
    [Fact]
    public void Users_folder_of_relative_paths_reuses_features_until_an_image_is_overwritten()
    {
        using var folder = new TempFolder("flatdebias-own-photos");
        var csv = DemoPhotos.Write(folder.Combine("MyPhotos"), quick: true, seed: 3);
        var app = folder.Combine("MyApp");
        Directory.CreateDirectory(app);
        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(app);
        try
        {
            string[] args = ["--csv", Path.Combine("..", "MyPhotos", DemoPhotos.CsvName), "--epochs", "3", "--device", "Cpu", "--feature-cache", "features"];
            using var first = ExampleRun.Start(OwnPhotosExample.Run, args);
            Assert.True(first.ExitCode == 0, first.Output);
            using (var results = first.Results())
            {
                Assert.False(results.RootElement.GetProperty("demo").GetBoolean());
                Assert.Equal(csv, results.RootElement.GetProperty("csvPath").GetString());
                Assert.All(results.RootElement.GetProperty("featureFiles").EnumerateArray(), f => Assert.False(f.GetProperty("reused").GetBoolean()));
                Assert.StartsWith(Path.Combine(app, "features"), results.RootElement.GetProperty("featureFiles")[0].GetProperty("path").GetString());
            }

            // Another picture behind the same relative path (test split).
            var lines = File.ReadAllLines(csv);
            var testImage = lines.Skip(1).Select(l => l.Split(',')).First(f => f[3] == "test")[0];
            DemoPhotos.Draw(Path.Combine(folder.Combine("MyPhotos"), testImage), circle: !testImage.StartsWith("circle", StringComparison.Ordinal), sky: true, new Random(9));

            using var second = ExampleRun.Start(OwnPhotosExample.Run, [.. args, "--method", "Dfr"]);
            Assert.True(second.ExitCode == 0, second.Output);
            using var again = second.Results();
            var files = again.RootElement.GetProperty("featureFiles").EnumerateArray().ToList();
            Assert.True(files[0].GetProperty("reused").GetBoolean(), second.Output);
            Assert.True(files[1].GetProperty("reused").GetBoolean(), second.Output);
            Assert.False(files[2].GetProperty("reused").GetBoolean(), second.Output);
            Assert.Contains("is stale: dataset:", files[2].GetProperty("reason").GetString());
            Assert.Contains("features test: made", second.Output);
            Assert.Equal("Dfr", again.RootElement.GetProperty("method").GetString());
            Assert.Equal(8, again.RootElement.GetProperty("scoring").GetProperty("sameLabel").GetInt32());
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    /// <summary>docs/own-photos.md says it: another <c>new MLContext(seed: ...)</c> gives the same model; another
    /// <c>Options.Seed</c> gives another one.</summary>
    [Fact]
    public void The_trainers_seed_is_options_seed_not_the_mlcontexts()
    {
        float[][] Scores(int contextSeed, int optionsSeed)
        {
            var ml = new MLContext(seed: contextSeed);
            var train = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Rows(64, 0.9, seed: 1));
            var validation = BiasedFeatureVectors.ToDataView(ml, BiasedFeatureVectors.Groups(4, seed: 2));
            using var model = ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
            {
                Network = NetworkKind.Linear, GroupColumnName = "Group", NumberOfEpochs = 3, BatchSize = 16,
                Seed = optionsSeed, Device = TrainingDevice.Cpu,
            }).Fit(train, validation);
            return model.Transform(validation).GetColumn<float[]>("Score").ToArray();
        }

        var first = Scores(contextSeed: 1, optionsSeed: 0);
        Assert.Equal(first, Scores(contextSeed: 2, optionsSeed: 0));
        Assert.NotEqual(first, Scores(contextSeed: 1, optionsSeed: 5));
    }

    [Fact]
    public void Missing_images_fail_the_run_with_one_line_naming_the_file_and_the_image_folder()
    {
        using var folder = new TempFolder("flatdebias-own-photos");
        var csv = DemoPhotos.Write(folder.Combine("MyPhotos"), quick: true);
        var wrong = folder.Combine("elsewhere");
        Directory.CreateDirectory(wrong);
        var output = new StringWriter();
        var error = new StringWriter();
        int code = OwnPhotosExample.Run(["--csv", csv, "--image-folder", wrong, "--output", folder.Combine("out")], output, error);

        Assert.Equal(1, code);
        var line = error.ToString().TrimEnd();
        Assert.DoesNotContain('\n', line);
        Assert.Contains("image file 'circle/circle_0001.png' does not exist", line);
        Assert.Contains($"looked for '{Path.Combine(wrong, "circle", "circle_0001.png")}'", line);
        Assert.Contains($"imageFolder '{wrong}'", line);
    }

    /// <summary>docs/own-photos.md shows the code that runs: each line of its recipe's code is a line of the example, and
    /// its short version (under 40 lines, two usings), which README.md shows too, is the code of <see cref="ReadmeExampleTests"/>
    /// but for the epochs and the image name, in a file that names no other MLNet.FlatDebias namespace.</summary>
    [Fact]
    public void The_docs_code_is_the_code_that_runs()
    {
        var root = Packaging.PackageConsumerTests.RepositoryRoot();
        var doc = File.ReadAllText(Path.Combine(root, "docs", "own-photos.md"));
        static HashSet<string> Lines(string text) => [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0)];

        var example = Lines(File.ReadAllText(Path.Combine(root, "examples", "OwnPhotos", "OwnPhotosExample.cs")));
        var recipe = Section(doc, "## The recipe, step by step", "## Calls that trip people up");
        var recipeBlocks = CodeBlocks(recipe).ToList();
        Assert.Equal(9, recipeBlocks.Count);                                  // steps 1 to 8, step 5 twice (FlatDebias, DFR)
        foreach (var line in recipeBlocks.SelectMany(Lines))
            Assert.True(example.Contains(line), $"docs/own-photos.md's recipe line is not in OwnPhotosExample.cs: {line}");

        var shortVersion = CodeBlocks(Section(doc, "## The short version", "## The folder and the CSV")).First();
        Assert.InRange(shortVersion.Split('\n').Length, 10, 39);
        var testFile = File.ReadAllText(Path.Combine(root, "tests", "MLNet.FlatDebias.Tests", "Examples", "ReadmeExampleTests.cs"));
        var test = Lines(testFile);
        foreach (var line in Lines(shortVersion).Where(l => !l.Contains("NumberOfEpochs", StringComparison.Ordinal) && !l.Contains("ImagePath = \"", StringComparison.Ordinal)))
            Assert.True(test.Contains(line), $"docs/own-photos.md's short version line is not in ReadmeExampleTests.cs: {line}");
        Assert.Equal(["using Microsoft.ML;", "using MLNet.FlatDebias.Trainers;"], Lines(shortVersion).Where(l => l.StartsWith("using ", StringComparison.Ordinal) && !l.StartsWith("using var ", StringComparison.Ordinal)));
        Assert.All(test.Where(l => l.StartsWith("using MLNet.", StringComparison.Ordinal)),
            u => Assert.Contains(u, new[] { "using MLNet.FlatDebias.Trainers;", "using MLNet.FlatDebias.Tests.Infrastructure;" }));

        // The README shows the same short version, character for character.
        var readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int section = readme.IndexOf("## From your photos to a prediction", StringComparison.Ordinal);
        Assert.True(section >= 0, "README.md has no section 'From your photos to a prediction'");
        Assert.Equal(shortVersion, CodeBlocks(readme[section..]).First());
    }

    private static string Section(string doc, string heading, string next)
    {
        int start = doc.IndexOf(heading, StringComparison.Ordinal);
        int end = doc.IndexOf(next, start, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"docs/own-photos.md has no section '{heading}' before '{next}'");
        return doc[start..end];
    }

    private static IEnumerable<string> CodeBlocks(string markdown)
    {
        var parts = markdown.Split("```");
        for (int i = 1; i < parts.Length; i += 2)
            if (parts[i].StartsWith("csharp\n", StringComparison.Ordinal)) yield return parts[i]["csharp\n".Length..];
    }

    [Theory]
    [InlineData("--csv", "/no/such/images.csv")]
    [InlineData("--image-folder", "/tmp")]
    [InlineData("--epochs", "1")]
    [InlineData("--batch-size", "0")]
    [InlineData("--method", "Jtt")]
    [InlineData("--test-split", "")]
    [InlineData("--no-such-option")]
    public void Bad_command_line_gives_exit_code_2_and_one_line(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = OwnPhotosExample.Run(args, output, error);

        ExampleRun.AssertOneLineError(code, error.ToString());
        Assert.DoesNotContain("error", output.ToString());
    }

    [Fact]
    public void Help_lists_every_option()
    {
        var output = new StringWriter();
        Assert.Equal(0, OwnPhotosExample.Run(["--help"], output));
        var help = output.ToString();
        foreach (var option in new[] { "--csv", "--image-folder", "--train-split", "--validation-split", "--test-split", "--method", "--epochs", "--batch-size", "--seed", "--device", "--feature-cache", "--deploy-folder", "--output", "--quick" })
            Assert.Contains(option, help);
        Assert.Contains("[default: out/own-photos]", help);
    }
}
