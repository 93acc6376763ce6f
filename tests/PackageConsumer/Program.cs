// A console application written as a user of the MLNet.FlatDebias NuGet package would write it: it references the
// package and one libtorch backend, nothing from the repository (PackageConsumerTests packs the library, copies this
// file into a fresh folder beside a project that references the package from a local feed, and runs it).
//
// It draws small labelled images (red or blue squares on noise), maps the label to a key, trains on the file paths
// through one ML.NET pipeline (ImageNet preprocessing, the trainer, the predicted key back to text), saves the model
// with the raw (image path) schema, loads it in a fresh MLContext and scores every image path with a PredictionEngine.
// It prints "result trained=<rows> accuracy=<share> agree=<share> epochs=<n>", then trains every other trainer of the
// package (ERM, GroupDRO, JTT, PGD, LfF, DFR) on the same images and prints for each
// "method <name> accuracy=<share> worst_group=<share> groups=<n> reload_max_difference=<value>"; then AFR, DPE and
// FlatDebias's last layer, each as a whole chain from image paths, printing
// "lastlayer <name> accuracy=<share> worst_group=<share> groups=<n> agree=<share>".
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Search;
using MLNet.FlatDebias.Trainers;
using MLNet.FlatDebias.Trainers.Networks;
using MLNet.FlatDebias.Transforms;
using SkiaSharp;
using MLNet.FlatDebias.Trainers.LastLayer;

string folder = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "flatdebias-consumer");
Directory.CreateDirectory(folder);
var rows = DrawImages(folder, count: 48, size: 32);

var ml = new MLContext(seed: 0);
IDataView images = ml.Data.LoadFromEnumerable(rows);
// The label becomes a key before the pipeline, so that the saved chain does not ask for a label when it scores.
IDataView training = ml.Transforms.Conversion.MapValueToKey("Label").Fit(images).Transform(images);
var epochs = new List<EpochReport>();
var pipeline = ml.Transforms.ImageNetPreprocessing(resize: 32, crop: 32)
    .Append(ml.MulticlassClassification.Trainers.FlatDebias(new FlatDebiasTrainer.Options
    {
        Network = NetworkKind.SmallCnn, NetworkWidth = 8, ImageShape = new ImageShape(3, 32, 32),
        NumberOfEpochs = 20, WarmupEpochs = 2, BatchSize = 16, LearningRate = 3e-3, Seed = 0,
        Progress = new Reports(epochs),
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(training);
string zip = Path.Combine(folder, "model.zip");
ml.Model.Save(model, images.Schema, zip);
var inMemory = model.Transform(training).GetColumn<string>("PredictedLabel").ToArray();

var scoring = new MLContext();
var loaded = scoring.Model.Load(zip, out _);
var engine = scoring.Model.CreatePredictionEngine<ImageInput, ImagePrediction>(loaded);
int correct = 0, agree = 0;
for (int i = 0; i < rows.Count; i++)
{
    var prediction = engine.Predict(new ImageInput { ImagePath = rows[i].ImagePath });
    if (prediction.PredictedLabel == rows[i].Label) correct++;
    if (prediction.PredictedLabel == inMemory[i]) agree++;
}
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"result trained={rows.Count} accuracy={correct / (double)rows.Count:F4} agree={agree / (double)rows.Count:F4} epochs={epochs.Count}"));

// Every other trainer of the package on the same images, preprocessed once: each model is evaluated (overall and per
// group: the square's half of the image), saved, loaded in a fresh MLContext, and must score as before.
var featurized = ml.Transforms.ImageNetPreprocessing(resize: 32, crop: 32).Fit(training).Transform(training);
T Small<T>(T o) where T : NetworkTrainerOptions
{
    o.Network = NetworkKind.SmallCnn; o.NetworkWidth = 8; o.ImageShape = new ImageShape(3, 32, 32);
    o.NumberOfEpochs = 10; o.BatchSize = 16; o.LearningRate = 3e-3; o.Seed = 0;
    return o;
}
var trainers = ml.MulticlassClassification.Trainers;
var erm = trainers.Erm(Small(new ErmTrainer.Options())).Fit(featurized);
var fitted = new (string Name, ClassifierNetworkTransformer Model)[]
{
    ("Erm", erm),
    ("GroupDro", trainers.GroupDro(Small(new GroupDroTrainer.Options { GroupColumnName = "Half" })).Fit(featurized)),
    ("Jtt", trainers.Jtt(Small(new JttTrainer.Options { FirstStageEpochs = 2 })).Fit(featurized)),
    ("Pgd", trainers.Pgd(Small(new PgdTrainer.Options { FirstStageEpochs = 2 })).Fit(featurized)),
    ("Lff", trainers.Lff(Small(new LffTrainer.Options())).Fit(featurized)),
    ("Dfr", trainers.Dfr(erm, new DfrTrainer.Options { GroupColumnName = "Half", InverseRegularizationValues = [1], NumberOfRetrains = 3 }).Fit(featurized)),
};
foreach (var (name, trained) in fitted)
{
    var scored = trained.Transform(featurized);
    var metrics = ml.MulticlassClassification.Evaluate(scored);
    var groups = ml.MulticlassClassification.EvaluateGroups(scored, groupColumnName: "Half");
    string path = Path.Combine(folder, name + ".zip");
    ml.Model.Save(trained, featurized.Schema, path);
    var reloaded = new MLContext().Model.Load(path, out _);
    var before = scored.GetColumn<float[]>("Score").ToArray();
    var after = reloaded.Transform(featurized).GetColumn<float[]>("Score").ToArray();
    double largest = before.Zip(after).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"method {name} accuracy={metrics.MicroAccuracy:F4} worst_group={groups.WorstGroupAccuracy:F4} groups={groups.ByGroup.Count} reload_max_difference={largest:E2}"));
}

// The last-layer methods with their options on the ERM model's frozen network (AFR and FlatDebias's last layer re-fit
// it on rows the ERM model did not train on; DPE on the held-out rows); each whole chain, from image paths through the
// preprocessing, the frozen network and the new head to the predicted text, saved in one zip, loaded in a fresh
// MLContext and scored through a PredictionEngine.
var preprocessing = ml.Transforms.ImageNetPreprocessing(resize: 32, crop: 32).Fit(training);
var parts = ml.Data.TrainTestSplit(featurized, testFraction: 0.25, seed: 0);
var erm75 = trainers.Erm(Small(new ErmTrainer.Options())).Fit(parts.TrainSet);
var lastLayer = new (string Name, ClassifierNetworkTransformer Model)[]
{
    ("Afr", trainers.Afr(erm75, new AfrTrainer.Options
    {
        ValidationSet = featurized, GroupColumnName = "Half", Gammas = [2, 8], PullStrengths = [0, 0.1], NumberOfEpochs = 100,
        ClassBalance = AfrClassBalance.PerClass,
    }).Fit(parts.TestSet)),
    ("Dpe", trainers.Dpe(erm, new DpeTrainer.Options
    {
        GroupColumnName = "Half", NumberOfMembers = 3, NumberOfEpochs = 10, PrototypeInitialization = PrototypeInitialization.ClassMeans, Seed = 1,
    }).Fit(featurized)),
    ("FlatDebiasLastLayer", trainers.FlatDebiasLastLayer(erm75, new FlatDebiasLastLayerTrainer.Options
    {
        ValidationSet = featurized, TraceBoundQuantiles = [0.8], DualLearningRates = [0.1], NumberOfEpochs = 100,
    }).Fit(parts.TestSet)),
};
foreach (var (name, head) in lastLayer)
{
    var scored = head.Transform(featurized);
    var metrics = ml.MulticlassClassification.Evaluate(scored);
    var groups = ml.MulticlassClassification.EvaluateGroups(scored, groupColumnName: "Half");
    var toText = ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(scored);
    var whole = new TransformerChain<ITransformer>(preprocessing, head, toText);
    var expected = whole.Transform(training).GetColumn<string>("PredictedLabel").ToArray();
    string path = Path.Combine(folder, name + "-chain.zip");
    ml.Model.Save(whole, images.Schema, path);
    var fresh = new MLContext();
    var chain = fresh.Model.Load(path, out _);
    var predictor = fresh.Model.CreatePredictionEngine<ImageInput, ImagePrediction>(chain);
    int same = rows.Where((r, i) => predictor.Predict(new ImageInput { ImagePath = r.ImagePath }).PredictedLabel == expected[i]).Count();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"lastlayer {name} accuracy={metrics.MicroAccuracy:F4} worst_group={groups.WorstGroupAccuracy:F4} groups={groups.ByGroup.Count} agree={same / (double)rows.Count:F4}"));
}

// The method search: ERM, JTT and DFR's defaults (one draw each), chosen on validation worst-group accuracy, its report
// and chart written (the chart library comes with the package), the chosen model saved and scored from a fresh MLContext.
using (var searched = ml.MulticlassClassification.CreateMethodSearch(new MethodSearchOptions
{
    GroupColumnName = "Half", Methods = [DebiasMethod.Erm, DebiasMethod.Jtt, DebiasMethod.Dfr], DrawsPerMethod = 1, Seeds = [1],
    HeldOutSet = parts.TestSet, Network = o => Small(o),
}).Execute(parts.TrainSet, featurized))
{
    string report = searched.WriteReport(Path.Combine(folder, "search"));
    string path = Path.Combine(folder, "search", "chosen.zip");
    ml.Model.Save(searched.Model, featurized.Schema, path);
    var reloaded = new MLContext().Model.Load(path, out _);
    var worst = new MLContext().MulticlassClassification.EvaluateGroups(reloaded.Transform(featurized), groupColumnName: "Half").WorstGroupAccuracy;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"search chosen={searched.Chosen.Method} entries={searched.Leaderboard.Count} report={File.Exists(report)} chart_bytes={new FileInfo(Path.Combine(folder, "search", "worst-group.png")).Length} validation_worst_group={searched.Chosen.ValidationWorstGroup:F6} reloaded_worst_group={worst:F6}"));
}
return 0;

static List<ImageRow> DrawImages(string folder, int count, int size)
{
    var random = new Random(7);
    var rows = new List<ImageRow>();
    for (int i = 0; i < count; i++)
    {
        bool red = i % 2 == 0;
        using var bitmap = new SKBitmap(size, size);
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                byte v = (byte)random.Next(0, 90);
                bitmap.SetPixel(x, y, new SKColor(v, v, v));
            }
        int side = size / 2, left = random.Next(0, size - side), top = random.Next(0, size - side);
        using (var canvas = new SKCanvas(bitmap))
        using (var paint = new SKPaint { Color = red ? new SKColor(220, 40, 40) : new SKColor(40, 60, 220) })
            canvas.DrawRect(left, top, side, side, paint);
        string path = Path.Combine(folder, $"image{i:D3}.png");
        using (var file = File.Create(path))
            bitmap.Encode(file, SKEncodedImageFormat.Png, 100);
        rows.Add(new ImageRow { ImagePath = path, Label = red ? "red" : "blue", Half = left < (size - side) / 2 ? "left" : "right" });
    }
    return rows;
}

sealed class ImageRow
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
    public string Half { get; set; } = "";
}

sealed class ImageInput
{
    public string ImagePath { get; set; } = "";
}

sealed class ImagePrediction
{
    public string PredictedLabel { get; set; } = "";
    public float[] Score { get; set; } = [];
}

/// <summary>Prints each epoch's line on the training thread and keeps the reports.</summary>
sealed class Reports(List<EpochReport> epochs) : IProgress<EpochReport>
{
    public void Report(EpochReport value)
    {
        epochs.Add(value);
        Console.WriteLine(value);
    }
}
