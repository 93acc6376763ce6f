using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;

namespace MLNet.FlatDebias.Examples;

/// <summary>Writing an example's output folder: the results JSON and the models.</summary>
public static class ExperimentFiles
{
    /// <summary>Indented JSON, camelCase names, enums as text, NaN and infinities written as strings.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Writes <paramref name="value"/> as JSON to <paramref name="path"/>.</summary>
    public static void WriteJson<T>(string path, T value) => File.WriteAllText(path, JsonSerializer.Serialize(value, Json));

    /// <summary>Saves <paramref name="model"/> as an ML.NET zip that reads rows of <paramref name="inputSchema"/>.</summary>
    public static void SaveModel(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.Model.Save(model, inputSchema, path);
    }
}
