namespace MLNet.FlatDebias.Trainers;

/// <summary>Which epoch's weights the fitted model keeps. Ties on a validation metric go to an epoch the method trained
/// over one of FlatDebias's warm-up epochs (plain ERM), then to the epoch with the better validation accuracy, then to
/// the earlier epoch.</summary>
public enum ModelSelection
{
    /// <summary>The weights after the last epoch.</summary>
    LastEpoch,

    /// <summary>The epoch with the best validation accuracy (needs a validation set).</summary>
    ValidationAccuracy,

    /// <summary>The epoch with the best validation worst-group accuracy, the debiasing literature's early
    /// stopping (needs a validation set with the group column).</summary>
    ValidationWorstGroupAccuracy,

    /// <summary>The epoch with the best validation worst-class accuracy: model selection without any group
    /// labels (needs a validation set).</summary>
    ValidationWorstClassAccuracy,
}
