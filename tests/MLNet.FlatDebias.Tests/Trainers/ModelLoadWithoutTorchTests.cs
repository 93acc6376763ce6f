using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;

namespace MLNet.FlatDebias.Tests.Trainers;

/// <summary>
/// A saved model loads and scores in a separate process that references only ML.NET and ONNX Runtime
/// (tests/ModelLoadProbe): no TorchSharp, no libtorch, no MLNet.FlatDebias assembly, no file beside the zip; its
/// predictions and scores equal those of the trained transformer.
/// </summary>
[Collection(TorchCollection.Name)]
public sealed class ModelLoadWithoutTorchTests
{
    [Fact]
    public void A_saved_model_scores_in_a_process_without_TorchSharp()
    {
        var ml = new MLContext(0);
        var train = BiasedShapes.ToDataView(ml, BiasedShapes.Rows(192, 0.5, 41));
        var rows = BiasedShapes.Groups(10, 42);
        var options = new ErmTrainer.Options
        {
            Network = NetworkKind.SmallCnn, NetworkWidth = 4, NumberOfEpochs = 6, BatchSize = 16, LearningRate = 3e-3,
            Optimizer = OptimizerKind.Adam, Seed = 4, Device = TrainingDevice.Cpu,
        };
        using var model = ml.MulticlassClassification.Trainers.Erm(options).Fit(train);
        var scored = model.Transform(BiasedShapes.ToDataView(ml, rows));
        var expectedScores = scored.GetColumn<float[]>("Score").ToArray();
        var expectedLabels = scored.GetColumn<uint>("PredictedLabel").ToArray();
        Assert.Equal(2, expectedLabels.Distinct().Count()); // both classes predicted, so the labels are a real check

        using var folder = new TempFolder("model-probe");
        string zip = folder.Combine("model", "model.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(zip)!);
        ml.Model.Save(model, train.Schema, zip);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(zip)!)); // nothing beside the zip
        string features = folder.Combine("features.bin");
        using (var writer = new BinaryWriter(File.Create(features)))
        {
            writer.Write(rows.Count);
            writer.Write(rows[0].Features.Length);
            foreach (var row in rows)
                foreach (float v in row.Features) writer.Write(v);
        }
        string resultPath = folder.Combine("result.json");

        var (exitCode, output) = RunProbe(zip, features, resultPath);
        Assert.True(exitCode == 0, output);

        using var result = JsonDocument.Parse(File.ReadAllText(resultPath));
        var root = result.RootElement;
        var assemblies = root.GetProperty("Assemblies").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Contains("Microsoft.ML.OnnxTransformer", assemblies);
        Assert.DoesNotContain(assemblies, a => a!.StartsWith("TorchSharp", StringComparison.Ordinal));
        Assert.DoesNotContain(assemblies, a => a!.StartsWith("MLNet.FlatDebias", StringComparison.Ordinal));
        if (root.GetProperty("MapsChecked").GetBoolean())
            Assert.False(root.GetProperty("NativeLibtorchLoaded").GetBoolean(), "libtorch was mapped into the probe process");

        Assert.Equal(BiasedShapes.Labels, root.GetProperty("KeyValues").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(expectedLabels, root.GetProperty("Predicted").EnumerateArray().Select(v => v.GetUInt32()));
        var scores = root.GetProperty("Scores").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        Assert.Equal(expectedScores.Length, scores.Length);
        for (int i = 0; i < scores.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.True(Math.Abs(expectedScores[i][c] - scores[i][c]) <= 1e-5, $"row {i} class {c}: {expectedScores[i][c]} vs {scores[i][c]}");
    }

    private static (int ExitCode, string Output) RunProbe(params string[] args)
    {
        string probe = Path.Combine(AppContext.BaseDirectory, "ModelLoadProbe.dll");
        Assert.True(File.Exists(probe), $"{probe} was not built beside the tests");
        // DOTNET_HOST_PATH is the dotnet that runs the tests (set by `dotnet test`).
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var start = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(probe);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "the probe did not finish in 2 minutes");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
