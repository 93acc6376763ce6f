namespace MLNet.FlatDebias.Trainers;

/// <summary>Where the second stage of a two-stage trainer (<see cref="JttTrainer"/>, <see cref="PgdTrainer"/>) starts.</summary>
public enum SecondStageStart
{
    /// <summary>From the initial weights, the same ones the first stage started from (a model trained from scratch).</summary>
    FromScratch,

    /// <summary>From the first-stage model's weights (the biased model, trained further).</summary>
    FromFirstStage,
}
