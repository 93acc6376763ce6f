// Usage: ModelLoadProbe <model.zip> <features.bin> <result.json>
// features.bin: int32 rows, int32 values per row, then rows * values float32. The probe loads the model with
// mlContext.Model.Load, scores the rows, evaluates them against the label keys in the file's order (1-based key of the
// predicted label is written back), and reports which assemblies and native libraries the process loaded.
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

if (args.Length != 3)
{
    Console.Error.WriteLine("usage: ModelLoadProbe <model.zip> <features.bin> <result.json>");
    return 2;
}

var ml = new MLContext(0);
var model = ml.Model.Load(args[0], out var inputSchema);

float[][] rows;
using (var reader = new BinaryReader(File.OpenRead(args[1])))
{
    int count = reader.ReadInt32(), size = reader.ReadInt32();
    rows = new float[count][];
    for (int i = 0; i < count; i++)
    {
        rows[i] = new float[size];
        for (int j = 0; j < size; j++) rows[i][j] = reader.ReadSingle();
    }
}

// The feature column as the saved input schema declares it (name, image dimensions).
var features = inputSchema.Single(c => c.Type is VectorDataViewType { ItemType: NumberDataViewType } v && v.Size == rows[0].Length);
var definition = SchemaDefinition.Create(typeof(ProbeRow));
definition[nameof(ProbeRow.Features)].ColumnName = features.Name;
definition[nameof(ProbeRow.Features)].ColumnType = features.Type;
var data = ml.Data.LoadFromEnumerable(rows.Select(r => new ProbeRow { Features = r }), definition);

var scored = model.Transform(data);
var scores = scored.GetColumn<float[]>("Score").ToArray();
var predicted = scored.GetColumn<uint>("PredictedLabel").ToArray();
VBuffer<ReadOnlyMemory<char>> keyValues = default;
scored.Schema["PredictedLabel"].GetKeyValues(ref keyValues);

string maps = OperatingSystem.IsLinux() ? File.ReadAllText("/proc/self/maps") : "";
var result = new
{
    Scores = scores,
    Predicted = predicted,
    KeyValues = keyValues.DenseValues().Select(v => v.ToString()).ToArray(),
    Assemblies = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name).OrderBy(n => n).ToArray(),
    NativeLibtorchLoaded = maps.Contains("libtorch", StringComparison.Ordinal) || maps.Contains("LibTorchSharp", StringComparison.Ordinal),
    MapsChecked = OperatingSystem.IsLinux(),
};
File.WriteAllText(args[2], JsonSerializer.Serialize(result));
return 0;

internal sealed class ProbeRow
{
    public float[] Features { get; set; } = [];
}
