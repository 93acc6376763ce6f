namespace MLNet.FlatDebias.Trainers;

/// <summary>Which model's traces drive the multipliers' updates (the penalty always acts on the model being trained).</summary>
public enum TraceReference
{
    /// <summary>The model being trained, with the traces of the same forward pass (<c>METHOD.md</c> section 3).</summary>
    TrainedModel,

    /// <summary>The model at the end of the ERM warm-up, frozen: every training row's trace is measured once then,
    /// and those fixed traces drive the multipliers (rows the biased model has not learned keep gaining weight),
    /// as PGD and JTT use a biased model to find the hard rows. The bound comes from the same traces.</summary>
    WarmupModel,
}
