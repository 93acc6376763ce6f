using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Losses;

/// <summary>
/// Shape checks for a batch of logits <c>[B, K]</c>, labels <c>[B]</c> and optional per-row tensors, shared by the
/// losses and per-row scores. Errors are <see cref="ArgumentException"/>s that name the parameter and both shapes.
/// </summary>
internal static class ClassificationBatchGuard
{
    /// <summary>Throws unless <paramref name="logits"/> is <c>[B, K]</c> and <paramref name="labels"/> is int64 <c>[B]</c>.</summary>
    public static void EnsureLogitsMatchLabels(Tensor logits, Tensor labels)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (logits.dim() != 2)
            throw new ArgumentException($"logits must be [B, K]; got shape {Shape(logits)}.", nameof(logits));
        if (labels.dim() != 1 || labels.shape[0] != logits.shape[0])
            throw new ArgumentException(
                $"labels must be [B] with B = logits.shape[0]; got logits {Shape(logits)} and labels {Shape(labels)}.", nameof(labels));
        if (labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"labels must be int64 class indices; got {labels.dtype}.", nameof(labels));
    }

    /// <summary>Throws unless <paramref name="rows"/> has <c>logits.shape[0]</c> rows and the given number of dimensions.</summary>
    public static void EnsureRowsMatch(Tensor logits, Tensor rows, int dimensions, string name, string expected)
    {
        ArgumentNullException.ThrowIfNull(rows, name);
        if (rows.dim() != dimensions || rows.shape[0] != logits.shape[0])
            throw new ArgumentException(
                $"{name} must be {expected} with B = logits.shape[0]; got logits {Shape(logits)} and {name} {Shape(rows)}.", name);
    }

    /// <summary>A shape as <c>[3, 4]</c>.</summary>
    public static string Shape(Tensor tensor) => $"[{string.Join(", ", tensor.shape)}]";
}
