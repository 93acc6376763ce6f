using System.Globalization;
using MLNet.FlatDebias.Trainers.Networks;
using Onnx;
using static TorchSharp.torch;
using MLNet.FlatDebias.Runtime;

namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>
/// Reads a network back from an ONNX model written by <see cref="OnnxExport"/>: the network from the model's
/// metadata and its weights from the initializers, by state-dictionary name.
/// </summary>
public static class OnnxImport
{
    /// <summary>Rebuilds the network recorded in an ONNX model written by <see cref="OnnxExport"/> and loads its weights.</summary>
    /// <param name="onnx">A readable stream positioned at the model; it is read to its end and left open.</param>
    /// <returns>A new network of the recorded kind and hyperparameters, on the CPU, in evaluation mode.</returns>
    /// <exception cref="InvalidDataException">The stream is not a readable ONNX model (truncated, corrupted), has no
    /// <c>flatdebias.*</c> metadata (it was not written by <see cref="OnnxExport"/>), or its tensors do not match
    /// the recorded network.</exception>
    public static ClassifierNetwork LoadNetwork(Stream onnx)
    {
        var model = OnnxModelReader.Read(onnx);
        TorchRuntime.EnsureLoaded();
        var network = NetworkMetadata.Rebuild(model);
        try
        {
            Load(network, model);
        }
        catch
        {
            network.Dispose();
            throw;
        }
        network.eval();
        return network;
    }

    /// <summary>
    /// Loads the weights of an ONNX model into <paramref name="network"/> by state-dictionary name. Strict: every
    /// state entry of the network must be in the file with the same shape, and the file must have no other tensor.
    /// </summary>
    /// <param name="network">The network to fill (its mode is not changed).</param>
    /// <param name="onnx">A readable stream positioned at the model; it is read to its end and left open.</param>
    /// <exception cref="InvalidDataException">The stream is not a readable ONNX model, or a tensor is missing, extra
    /// or of another shape (the message names them).</exception>
    public static void LoadWeights(ClassifierNetwork network, Stream onnx)
    {
        ArgumentNullException.ThrowIfNull(network);
        var model = OnnxModelReader.Read(onnx);
        TorchRuntime.EnsureLoaded();
        Load(network, model);
    }

    private static void Load(ClassifierNetwork network, ModelProto model)
    {
        using var scope = NewDisposeScope();
        var source = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var initializer in model.Graph.Initializer)
        {
            if (source.ContainsKey(initializer.Name))
                throw new InvalidDataException($"The ONNX model has two initializers named '{initializer.Name}'.");
            source[initializer.Name] = OnnxTensors.ToTensor(initializer);
        }
        foreach (var entry in model.MetadataProps.Where(e => e.Key.StartsWith(NetworkMetadata.StatePrefix, StringComparison.Ordinal)))
        {
            var key = entry.Key[NetworkMetadata.StatePrefix.Length..];
            if (!long.TryParse(entry.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                throw new InvalidDataException($"Metadata '{entry.Key}' must be an integer; got '{entry.Value}'.");
            if (!source.TryAdd(key, tensor(value)))
                throw new InvalidDataException($"The ONNX model holds '{key}' twice (as an initializer and as metadata).");
        }
        if (network.PrototypeHead is not null)
        {
            // A DPE model's file has no fc.*: the linear layer its prototypes replaced is unused; it is filled with zeros.
            foreach (var (key, value) in network.state_dict().Where(e => e.Key.StartsWith(NetworkMetadata.LinearHeadPrefix, StringComparison.Ordinal)))
                if (!source.TryAdd(key, zeros_like(value)))
                    throw new InvalidDataException($"The ONNX model of a prototype-head network holds '{key}', which it should not.");
        }
        PretrainedWeights.LoadStateDict(network, source, "the ONNX model", keepHeadWhenShapeDiffers: true);
    }
}
