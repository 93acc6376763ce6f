using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Trainers;

namespace MLNet.FlatDebias.Examples.MethodSearch;

/// <summary>One row of my CSV: a sensor reading (<c>Signal</c>, what the label really depends on), a shortcut (<c>Site</c>,
/// which machine took it: it goes with the label in most training rows, not in the rows that matter), the label and the
/// group (label and site).</summary>
public sealed class Reading
{
    [LoadColumn(0)]
    public float Signal { get; set; }

    [LoadColumn(1)]
    public float Site { get; set; }

    [LoadColumn(2)]
    public string Label { get; set; } = "";

    [LoadColumn(3)]
    public string Group { get; set; } = "";
}

/// <summary>What the served model predicts.</summary>
public sealed class Prediction
{
    /// <summary>The predicted label, mapped back to its text.</summary>
    public string PredictedText { get; set; } = "";

    /// <summary>The class scores.</summary>
    public float[] Score { get; set; } = [];
}

/// <summary>The client: writes its CSVs, searches, saves, loads in a fresh context, predicts.</summary>
public static class MethodSearchClient
{
    public const string ModelFile = "model.zip";

    /// <summary>Runs the client in <paramref name="folder"/> with <paramref name="draws"/> draws per method.</summary>
    /// <returns>0.</returns>
    public static int Run(string folder, int draws, TextWriter output)
    {
        Directory.CreateDirectory(folder);
        var ml = new MLContext(seed: 0);

        // 1. My data: a training CSV where the site goes with the label 95 % of the time, and a validation CSV (and a
        //    held-out CSV for the last-layer methods) where every (label, site) group is equally common.
        //    Written once (to a temporary file, then renamed): another process running this program on the same folder
        //    shares the search's trainings and must not see a half-written file.
        string Csv(string name, IEnumerable<Reading> rows)
        {
            var path = Path.Combine(folder, name);
            if (File.Exists(path)) return path;
            var temporary = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllLines(temporary, rows.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Signal},{r.Site},{r.Label},{r.Group}")));
            File.Move(temporary, path, overwrite: true);
            return path;
        }
        var trainPath = Csv("train.csv", Readings(2000, agreement: 0.95, seed: 1));
        var validationPath = Csv("validation.csv", Readings(400, agreement: 0.5, seed: 2));
        var heldOutPath = Csv("held-out.csv", Readings(400, agreement: 0.5, seed: 3));
        var testPath = Csv("test.csv", Readings(1000, agreement: 0.5, seed: 4));

        // 2. Features and a key label, as for any ML.NET trainer.
        var load = (string path) => ml.Data.LoadFromTextFile<Reading>(path, separatorChar: ',');
        var prepare = ml.Transforms.Concatenate("Features", nameof(Reading.Signal), nameof(Reading.Site))
            .Append(ml.Transforms.Conversion.MapValueToKey("Label"))
            .Fit(load(trainPath));
        IDataView Prepared(string path) => ml.Data.Cache(prepare.Transform(load(path)));

        // 3. The search: every method the data allows, the same draws each, chosen on validation worst-group accuracy.
        var search = ml.MulticlassClassification.CreateMethodSearch(new MethodSearchOptions
        {
            GroupColumnName = "Group",
            DrawsPerMethod = draws,
            Seeds = [1, 2],
            HeldOutSet = Prepared(heldOutPath),
            TestSet = Prepared(testPath),
            ResultFolder = Path.Combine(folder, "search"),
            Network = o =>
            {
                o.Network = NetworkKind.Mlp;
                o.NetworkWidth = 16;
                o.NumberOfEpochs = 8;
                o.BatchSize = 64;
                o.Optimizer = OptimizerKind.Adam;
                o.LearningRate = 1e-2;
            },
        });
        using var result = search.Execute(Prepared(trainPath), Prepared(validationPath), new Lines(output));
        output.WriteLine(result.FormatLeaderboard());
        output.WriteLine($"Chosen: {result.Chosen.Method} draw {result.Chosen.Draw}; its seeds' test worst group {result.ChosenTest}.");
        result.WriteReport(folder);

        // 4. Save the whole chain (my preparation, the chosen model, the label back to text), load it in a fresh context.
        var chain = prepare.Append(result.Model).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel").Fit(result.Model.Transform(prepare.Transform(load(trainPath)))));
        var modelPath = Path.Combine(folder, ModelFile);
        ml.Model.Save(chain, load(trainPath).Schema, modelPath);

        var fresh = new MLContext(seed: 1);
        var loaded = fresh.Model.Load(modelPath, out _);
        var engine = fresh.Model.CreatePredictionEngine<Reading, Prediction>(loaded);
        foreach (var reading in new[] { new Reading { Signal = 1.2f, Site = -1 }, new Reading { Signal = -1.1f, Site = 1 } })
        {
            var p = engine.Predict(reading);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"signal {reading.Signal:F1}, site {reading.Site:F0}: predicted {p.PredictedText} (scores {string.Join(", ", p.Score.Select(s => s.ToString("F3", CultureInfo.InvariantCulture)))})"));
        }
        return 0;
    }

    /// <summary>Prints each training as it finishes, on the search's thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class Lines(TextWriter output) : IProgress<MethodSearchProgress>
    {
        public void Report(MethodSearchProgress value) => output.WriteLine(value);
    }

    /// <summary>Readings whose site agrees with the label with probability <paramref name="agreement"/>: the label is the
    /// signal's sign under noise (about 90 % predictable), the site is a clean ±1.</summary>
    public static IEnumerable<Reading> Readings(int count, double agreement, int seed)
    {
        var random = new Random(seed);
        string[] labels = ["low", "high"];
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(2);
            int site = random.NextDouble() < agreement ? label : 1 - label;
            double noise = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            yield return new Reading
            {
                Signal = (float)((2 * label - 1) + 0.8 * noise),
                Site = 2 * site - 1,
                Label = labels[label],
                Group = $"{labels[label]}/site{site}",
            };
        }
    }
}
