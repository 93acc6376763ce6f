using Microsoft.ML;
using MLNet.FlatDebias.Examples.MethodSearch;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Tests.Infrastructure;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The new user's client (examples/MethodSearch): it searches its own CSV feature set, saves the chosen chain and
/// serves it from a fresh MLContext; the saved model, loaded again here, scores the test CSV exactly as the search's
/// leaderboard says the chosen training did.</summary>
[Collection(TorchCollection.Name)]
public sealed class MethodSearchClientTests
{
    /// <summary>The saved chain scores with ONNX Runtime, the search scored with TorchSharp: the scores differ by float
    /// rounding, which could flip a prediction only at a near-tie, and one flipped row of the 1,000 test rows moves an
    /// accuracy by at least 1e-3; 1e-6 leaves room for the summation order only.</summary>
    private const double OnnxAgainstTorch = 1e-6;

    [Fact]
    public void The_client_searches_saves_and_serves_and_the_loaded_model_scores_as_its_leaderboard_entry()
    {
        using var folder = new TempFolder("method-search-client");
        var output = new StringWriter();
        Assert.Equal(0, MethodSearchClient.Run(folder.Path, draws: 1, output));
        var text = output.ToString();
        Assert.Contains("Chosen: ", text);
        // The served model reads the signal, not the site shortcut that goes with the label in 95 % of the training rows.
        Assert.Contains("signal 1.2, site -1: predicted high", text);
        Assert.Contains("signal -1.1, site 1: predicted low", text);

        var board = File.ReadAllLines(Path.Combine(folder.Path, "leaderboard.csv")).Skip(1).Select(SearchTrial.FromCsv).ToList();
        var chosen = board[0];
        Assert.Contains($"Chosen: {chosen.Method} draw {chosen.Draw}", text);

        var fresh = new MLContext(seed: 2);
        var model = fresh.Model.Load(Path.Combine(folder.Path, MethodSearchClient.ModelFile), out _);
        var test = fresh.Data.LoadFromTextFile<Reading>(Path.Combine(folder.Path, "test.csv"), separatorChar: ',');
        var metrics = fresh.MulticlassClassification.EvaluateGroups(model.Transform(test), "Label", "Group");
        Assert.Equal(chosen.TestWorstGroup, metrics.WorstGroupAccuracy, OnnxAgainstTorch);
        Assert.Equal(chosen.TestAccuracy, metrics.AverageAccuracy, OnnxAgainstTorch);
        Assert.True(File.Exists(Path.Combine(folder.Path, "report.md")));
    }
}
