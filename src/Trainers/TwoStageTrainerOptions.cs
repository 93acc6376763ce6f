namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// The options the two-stage trainers (<see cref="JttTrainer"/>, <see cref="PgdTrainer"/>) add to the shared ones: a
/// first stage trains a biased model for <see cref="FirstStageEpochs"/> epochs, a pass of that frozen model scores every
/// training row, and the second stage trains the returned model for <see cref="NetworkTrainerOptions.NumberOfEpochs"/>
/// epochs with rows weighted by those scores. Both stages run inside one <c>Fit</c>; model selection
/// (<see cref="NetworkTrainerOptions.ModelSelection"/>) applies to the second stage, the first stage keeps its last epoch.
/// Checkpoints go to <c>stage1</c> and <c>stage2</c> sub-folders of <see cref="NetworkTrainerOptions.CheckpointDirectory"/>.
/// </summary>
public abstract class TwoStageTrainerOptions : NetworkTrainerOptions
{
    /// <summary>Epochs of the first (biased) stage, JTT's T. Default 2 (short schedules;
    /// JTT's Waterbirds setting is 60 of 300 epochs, a fifth of the run). Range: 1 and up.</summary>
    public int FirstStageEpochs { get; set; } = TrainerDefaults.FirstStageEpochs;

    /// <summary>Where the second stage starts. The default differs by method and follows each paper: JTT trains the
    /// second model from scratch, PGD continues from the biased model.</summary>
    public abstract SecondStageStart SecondStageStart { get; set; }
}
