using Microsoft.ML;

namespace MLNet.FlatDebias.Trainers.LastLayer;

/// <summary>The settings every full-batch last-layer method shares (<see cref="AfrTrainer"/>,
/// <see cref="FlatDebiasLastLayerTrainer"/>): the columns, the validation set that chooses the epoch and the grid point,
/// and the full-batch schedule. The defaults are AFR's released code's Waterbirds settings.</summary>
public abstract class LastLayerSearchOptions
{
    /// <summary>The label column of the re-weighting rows and of <see cref="ValidationSet"/>: a key column with the model's
    /// classes. Default <c>"Label"</c>.</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>The feature column: a known-size Single vector of the size the model reads (the column it was trained on);
    /// the result reads the same column. Default <c>"Features"</c>.</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>The group column of <see cref="ValidationSet"/> (key, string, integer or bool): with it, the epoch and the
    /// grid point are chosen by validation worst-group accuracy; without (null, the default), by validation worst-class
    /// accuracy, so no group label is needed anywhere. The re-weighting rows' groups are never read.</summary>
    public string? GroupColumnName { get; set; }

    /// <summary>The rows that choose each grid point's epoch and the grid point (the label and feature columns, and the group
    /// column when named). Required. Default null.</summary>
    public IDataView? ValidationSet { get; set; }

    /// <summary>Full-batch gradient steps per grid point. Default 500 (AFR's Waterbirds setting). Range: 1 and up.</summary>
    public int NumberOfEpochs { get; set; } = 500;

    /// <summary>Plain SGD's step (no momentum, no weight decay). Default 1e-2 (AFR's Waterbirds setting). Range: &gt; 0 and
    /// finite.</summary>
    public double LearningRate { get; set; } = 1e-2;

    /// <summary>Each grid point's gradient is clipped to this norm. Default 1 (the released code's). Range: &gt; 0;
    /// <c>double.PositiveInfinity</c> for no clip.</summary>
    public double MaxGradientNorm { get; set; } = 1.0;

    /// <summary>True (default, the released code's): each grid point's head is taken at its best validation epoch; false:
    /// at its last epoch (the grid point is still chosen on validation).</summary>
    public bool SelectEpoch { get; set; } = true;

    /// <summary>Rows per forward pass when extracting features. Default 256. Range: 1 and up.</summary>
    public int EvaluationBatchSize { get; set; } = 256;
}
