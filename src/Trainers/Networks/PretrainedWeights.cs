using System.Collections;
using TorchSharp.PyBridge;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>
/// Loads weights into a <see cref="ClassifierNetwork"/> by state-dictionary name from a PyTorch file
/// (<c>.pth</c>, <c>.pt</c>: a pickled <c>state_dict</c>) or a <c>.safetensors</c> file, as torchvision's
/// <c>resnet50(weights=...)</c> would save them.
/// </summary>
public static class PretrainedWeights
{
    /// <summary>Loads a state dictionary from a file into <paramref name="network"/>.</summary>
    /// <param name="network">The network to fill.</param>
    /// <param name="path">A <c>.pth</c>/<c>.pt</c>/<c>.bin</c> (PyTorch pickle) or <c>.safetensors</c> file.</param>
    /// <param name="keepHeadWhenShapeDiffers">When false (default) and the file's head (<c>fc.*</c>) has another
    /// shape than the network's (e.g. ImageNet's 1000 classes), the head is left as initialised and only the
    /// backbone is loaded; when true such a mismatch is an error.</param>
    /// <returns>The names of the tensors that were loaded.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file cannot be read, or its names or shapes do not match the
    /// network (the message lists the offending names).</exception>
    public static IReadOnlyList<string> Load(ClassifierNetwork network, string path, bool keepHeadWhenShapeDiffers = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Pretrained weights file '{path}' does not exist.", path);
        TorchRuntime.EnsureLoaded();

        Dictionary<string, Tensor> source;
        try
        {
            source = Path.GetExtension(path).Equals(".safetensors", StringComparison.OrdinalIgnoreCase)
                ? Safetensors.LoadStateDict(path)
                : FromHashtable(PyTorchUnpickler.UnpickleStateDict(path));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"Pretrained weights file '{path}' could not be read as a PyTorch state dictionary or safetensors file: {e.Message}", e);
        }
        try
        {
            return LoadStateDict(network, source, path, keepHeadWhenShapeDiffers);
        }
        finally
        {
            foreach (var tensor in source.Values) tensor.Dispose();
        }
    }

    /// <summary>Copies tensors into <paramref name="network"/> by name, checking names and shapes first.</summary>
    /// <param name="network">The network to fill.</param>
    /// <param name="source">Name → tensor; the tensors are copied, not taken.</param>
    /// <param name="origin">Where the tensors come from, for messages.</param>
    /// <param name="keepHeadWhenShapeDiffers">See <see cref="Load"/>.</param>
    /// <returns>The names that were loaded.</returns>
    public static IReadOnlyList<string> LoadStateDict(ClassifierNetwork network, IReadOnlyDictionary<string, Tensor> source, string origin, bool keepHeadWhenShapeDiffers = false)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(source);
        var target = network.state_dict();
        var headKeys = new HashSet<string>(target.Keys.Where(k => k.StartsWith("fc.", StringComparison.Ordinal)), StringComparer.Ordinal);
        bool skipHead = !keepHeadWhenShapeDiffers && headKeys.Any(k => source.TryGetValue(k, out var t) && !t.shape.SequenceEqual(target[k].shape));

        var missing = target.Keys.Where(k => !source.ContainsKey(k) && !(skipHead && headKeys.Contains(k))).ToList();
        var unexpected = source.Keys.Where(k => !target.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        var badShapes = target.Keys
            .Where(k => source.ContainsKey(k) && !(skipHead && headKeys.Contains(k)) && !source[k].shape.SequenceEqual(target[k].shape))
            .Select(k => $"{k}: file [{string.Join(", ", source[k].shape)}], network [{string.Join(", ", target[k].shape)}]")
            .ToList();
        if (missing.Count + unexpected.Count + badShapes.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing in the file: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? $" and {missing.Count - 8} more" : "")}");
            if (unexpected.Count > 0) parts.Add($"not in the network: {string.Join(", ", unexpected.Take(8))}{(unexpected.Count > 8 ? $" and {unexpected.Count - 8} more" : "")}");
            if (badShapes.Count > 0) parts.Add($"shape mismatch: {string.Join("; ", badShapes.Take(8))}");
            throw new InvalidDataException($"Weights from '{origin}' do not match the {network.GetType().Name} network: {string.Join(". ", parts)}.");
        }

        var loaded = new List<string>();
        using (no_grad())
        {
            foreach (var (name, tensor) in target)
            {
                if (skipHead && headKeys.Contains(name)) continue;
                tensor.copy_(source[name].to(tensor.dtype, tensor.device));
                loaded.Add(name);
            }
        }
        return loaded;
    }

    private static Dictionary<string, Tensor> FromHashtable(Hashtable table)
    {
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is string key && entry.Value is Tensor tensor) result[key] = tensor;
            else throw new InvalidDataException($"Entry '{entry.Key}' is not a tensor.");
        }
        return result;
    }
}
