using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// Finds the image-loading steps of a model (ML.NET's <see cref="ImageLoadingTransformer"/>, alone, in a
/// <see cref="TransformerChain{TLastTransformer}"/> at any depth, or inside an <see cref="ImageNetPreprocessingTransformer"/>)
/// and rebuilds the model with another image folder. Only those steps change; every other transformer is kept as it is.
/// </summary>
/// <remarks>
/// ML.NET exposes a loader's <see cref="ImageLoadingTransformer.ImageFolder"/> but neither its column pairs (internal) nor
/// a constructor, so a loader is rebuilt by fitting <c>LoadImages</c> (or <c>LoadRawImageBytes</c>, when the loader gives
/// bytes). Its columns are found through its public schema alone: the text column of the schema it receives that it
/// accepts by itself (<see cref="ITransformer.GetOutputSchema"/> throws without its input column), and the image columns
/// it adds. A loader that needs two input columns at once cannot be told apart this way and is refused. A rebuilt chain
/// applies every step in every scope (ML.NET keeps a chain's scopes private); a chain of appended transformers, as the
/// recipes build, has no other scope.
/// </remarks>
internal static class ImageFolderRebase
{
    /// <summary>The image folder of every image-loading step of <paramref name="model"/>, in order; null for a step
    /// without one (paths as given).</summary>
    public static List<string?> Folders(ITransformer model)
    {
        var folders = new List<string?>();
        Visit(model, loader => folders.Add(string.IsNullOrWhiteSpace(loader.ImageFolder) ? null : loader.ImageFolder));
        return folders;
    }

    /// <summary><paramref name="model"/> with every image-loading step reading relative paths from <paramref name="folder"/>
    /// (null: paths as given); the model itself when it has no such step.</summary>
    /// <param name="model">The model.</param>
    /// <param name="inputSchema">The schema the model takes (from <c>Model.Load</c>, or the data it was fitted on).</param>
    /// <param name="folder">The new folder, full path, or null.</param>
    public static ITransformer Apply(ITransformer model, DataViewSchema inputSchema, string? folder) => model switch
    {
        ImageLoadingTransformer loader => Rebuild(loader, inputSchema, folder),
        ImageNetPreprocessingTransformer preprocessing => new ImageNetPreprocessingTransformer(
            AsChain(Apply(preprocessing.Chain, inputSchema, folder)), preprocessing.Settings with { ImageFolder = folder }),
        _ when IsChain(model) => RebuildChain((IEnumerable<ITransformer>)model, inputSchema, folder) ?? model,
        _ => model,
    };

    private static void Visit(ITransformer model, Action<ImageLoadingTransformer> found)
    {
        switch (model)
        {
            case ImageLoadingTransformer loader:
                found(loader);
                break;
            case ImageNetPreprocessingTransformer preprocessing:
                Visit(preprocessing.Chain, found);
                break;
            default:
                if (IsChain(model))
                    foreach (var step in (IEnumerable<ITransformer>)model) Visit(step, found);
                break;
        }
    }

    private static bool IsChain(ITransformer model)
        => model.GetType() is { IsGenericType: true } type && type.GetGenericTypeDefinition() == typeof(TransformerChain<>);

    /// <summary>The chain with its loaders rebuilt, or null when nothing in it changed; each step sees the schema the steps
    /// before it give.</summary>
    private static TransformerChain<ITransformer>? RebuildChain(IEnumerable<ITransformer> chain, DataViewSchema inputSchema, string? folder)
    {
        var steps = chain.ToList();
        var rebuilt = new List<ITransformer>(steps.Count);
        var schema = inputSchema;
        foreach (var step in steps)
        {
            rebuilt.Add(Apply(step, schema, folder));
            schema = step.GetOutputSchema(schema);
        }
        return rebuilt.Where((step, i) => !ReferenceEquals(step, steps[i])).Any() ? new TransformerChain<ITransformer>([.. rebuilt]) : null;
    }

    private static TransformerChain<ITransformer> AsChain(ITransformer model)
        => model as TransformerChain<ITransformer> ?? new TransformerChain<ITransformer>(model);

    /// <summary>A loader with the same columns and image type reading from <paramref name="folder"/>.</summary>
    private static ITransformer Rebuild(ImageLoadingTransformer loader, DataViewSchema inputSchema, string? folder)
    {
        var ml = new MLContext();
        var (inputName, outputs) = Columns(loader, inputSchema);
        var steps = new List<ITransformer>();
        foreach (var (outputName, bytes) in outputs)
        {
            IEstimator<ITransformer> estimator = bytes
                ? ml.Transforms.LoadRawImageBytes(outputName, folder, inputName)
                : ml.Transforms.LoadImages(outputName, folder, inputName);
            steps.Add(estimator.Fit(EmptyPaths(ml, inputName)));
        }
        return steps.Count == 1 ? steps[0] : new TransformerChain<ITransformer>([.. steps]);
    }

    /// <summary>The text column the loader reads and the columns it writes (with whether each is raw bytes rather than an
    /// image), found by offering it each text column of <paramref name="inputSchema"/> alone.</summary>
    /// <exception cref="NotSupportedException">No single text column is enough for the loader.</exception>
    private static (string Input, List<(string Output, bool Bytes)> Outputs) Columns(ImageLoadingTransformer loader, DataViewSchema inputSchema)
    {
        foreach (var name in inputSchema.Where(c => !c.IsHidden && c.Type is TextDataViewType).Select(c => c.Name).Distinct())
        {
            var alone = new DataViewSchema.Builder();
            alone.AddColumn(name, TextDataViewType.Instance);
            DataViewSchema output;
            try
            {
                output = loader.GetOutputSchema(alone.ToSchema());
            }
            catch (ArgumentOutOfRangeException)
            {
                continue; // not this loader's input column
            }
            var written = output.Where(c => !c.IsHidden && c.Name != name)
                .Select(c => (c.Name, Bytes: c.Type is VectorDataViewType)).ToList(); // LoadRawImageBytes: Vector<Byte>; LoadImages: Image
            return (name, written);
        }
        throw new NotSupportedException(
            "An image-loading step of the model reads no single text column of its input schema; its image folder cannot be changed " +
            $"(text columns offered: {string.Join(", ", inputSchema.Where(c => c.Type is TextDataViewType).Select(c => c.Name))}).");
    }

    /// <summary>No rows, one text column named <paramref name="column"/>: what a loader is fitted on (it learns nothing).</summary>
    private static IDataView EmptyPaths(MLContext ml, string column)
    {
        var definition = SchemaDefinition.Create(typeof(PathRow));
        definition[0].ColumnName = column;
        return ml.Data.LoadFromEnumerable(Array.Empty<PathRow>(), definition);
    }

    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }
}
