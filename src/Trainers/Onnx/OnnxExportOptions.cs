namespace MLNet.FlatDebias.Trainers.Onnx;

/// <summary>Settings of <see cref="OnnxExport.Export"/>: the graph's input and output names and shapes.</summary>
/// <remarks>
/// What ML.NET's <c>ApplyOnnxModel</c> (Microsoft.ML.OnnxTransformer 6.0.0 on ONNX Runtime 1.31.1) does with the
/// exported shapes, as <c>OnnxMlNetTests</c> checks:
/// <list type="bullet">
/// <item>Input. A known-size float vector column of <c>C*H*W</c> values is accepted both by an input declared
/// <c>[N, C*H*W]</c> (<see cref="FlattenedInput"/> = true) and by one declared <c>[N, C, H, W]</c> (the default):
/// the transformer checks the element count and hands the row over in the declared shape with the batch set to 1.
/// The outputs are the same either way.</item>
/// <item>Outputs. The transformer scores one row at a time and reads a symbolic batch dimension as 1, so an
/// output declared <c>[N, K]</c> becomes a known-size vector column <c>Vector&lt;Single, 1, K&gt;</c> (K values),
/// exactly as with <see cref="FixedBatchSize"/> = 1; the int64 <c>[N]</c> index becomes <c>Vector&lt;Int64, 1&gt;</c>.
/// ML.NET does not need <see cref="FixedBatchSize"/>; it is for consumers that require fully static shapes.</item>
/// <item>Strings. The <see cref="LabelValues"/> output (an ONNX string tensor, <c>Gather</c> over a constant) runs
/// in ONNX Runtime and comes out of <c>ApplyOnnxModel</c> as a text vector column <c>Vector&lt;String, 1&gt;</c>.</item>
/// </list>
/// </remarks>
public sealed class OnnxExportOptions
{
    /// <summary>Name of the graph input (default <c>input</c>).</summary>
    public string InputName { get; set; } = "input";

    /// <summary>Name of the class-probability output, float <c>[N, K]</c>, the softmax of the logits
    /// (default <c>probabilities</c>).</summary>
    public string ProbabilitiesName { get; set; } = "probabilities";

    /// <summary>Name of the predicted-class output, int64 <c>[N]</c>, the index of the largest probability
    /// (default <c>predicted_index</c>).</summary>
    public string PredictedIndexName { get; set; } = "predicted_index";

    /// <summary>Name of the predicted-label output written when <see cref="LabelValues"/> is set
    /// (default <c>predicted_label</c>).</summary>
    public string PredictedLabelName { get; set; } = "predicted_label";

    /// <summary>Name of the logits output written when <see cref="IncludeLogits"/> is true (default <c>logits</c>).</summary>
    public string LogitsName { get; set; } = "logits";

    /// <summary>
    /// When true the input is declared <c>[N, C*H*W]</c> (one flat row per image, as ML.NET's vector columns hold
    /// it) and reshaped to <c>[N, C, H, W]</c> inside the graph (not for an <see cref="Networks.Mlp"/> or a
    /// <see cref="Networks.LinearClassifier"/>, which read the flat row as it is); when false (default) it is declared
    /// <c>[N, C, H, W]</c> (<c>[N, n, 1, 1]</c> for a network trained on a feature vector of n values). ML.NET's
    /// <c>ApplyOnnxModel</c> feeds a flat vector column of <c>C*H*W</c> values to either (see the remarks).
    /// </summary>
    public bool FlattenedInput { get; set; }

    /// <summary>
    /// Optional class names, one per class in index order (exactly K values when set; default null). When set, the
    /// graph also outputs <see cref="PredictedLabelName"/>, string <c>[N]</c>: the name of the predicted class
    /// (a <c>Gather</c> over a constant string tensor).
    /// </summary>
    public string[]? LabelValues { get; set; }

    /// <summary>
    /// Batch size written into every input and output shape (at least 1), or null (default) for a symbolic batch
    /// dimension <c>N</c>. For consumers that need fully static shapes; ML.NET's <c>ApplyOnnxModel</c> already gives
    /// known-size output columns with the symbolic batch (see the remarks).
    /// </summary>
    public int? FixedBatchSize { get; set; }

    /// <summary>Whether to also output the logits, float <c>[N, K]</c> (default false).</summary>
    public bool IncludeLogits { get; set; }

    /// <summary>Checks the settings against a network with <paramref name="numberOfClasses"/> classes.</summary>
    /// <param name="numberOfClasses">K, the network's number of classes.</param>
    /// <exception cref="ArgumentException">A name is empty or used twice, or <see cref="LabelValues"/> does not
    /// have K non-null values.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="FixedBatchSize"/> is below 1.</exception>
    internal void Validate(int numberOfClasses)
    {
        var names = new List<(string Setting, string Value)>
        {
            (nameof(InputName), InputName),
            (nameof(ProbabilitiesName), ProbabilitiesName),
            (nameof(PredictedIndexName), PredictedIndexName),
        };
        if (LabelValues is not null) names.Add((nameof(PredictedLabelName), PredictedLabelName));
        if (IncludeLogits) names.Add((nameof(LogitsName), LogitsName));
        foreach (var (setting, value) in names)
        {
            if (string.IsNullOrWhiteSpace(value))
                throw new ArgumentException($"{setting} must be a non-empty name.", setting);
        }
        var duplicate = names.GroupBy(n => n.Value, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"{string.Join(" and ", duplicate.Select(d => d.Setting))} are both '{duplicate.Key}'; graph names must differ.");
        if (FixedBatchSize is < 1)
            throw new ArgumentOutOfRangeException(nameof(FixedBatchSize), FixedBatchSize, "FixedBatchSize must be at least 1 (or null for a symbolic batch dimension).");
        if (LabelValues is not null)
        {
            if (LabelValues.Length != numberOfClasses)
                throw new ArgumentException($"LabelValues has {LabelValues.Length} values; the network has {numberOfClasses} classes.", nameof(LabelValues));
            if (LabelValues.Any(v => v is null))
                throw new ArgumentException("LabelValues must not contain null.", nameof(LabelValues));
        }
    }
}
