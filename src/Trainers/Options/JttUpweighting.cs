namespace MLNet.FlatDebias.Trainers;

/// <summary>How <see cref="JttTrainer"/> gives its error set more weight in the second stage.</summary>
public enum JttUpweighting
{
    /// <summary>Rows are drawn with probability proportional to their weight (<c>UpweightFactor</c> for the error set,
    /// 1 otherwise), N draws an epoch. JTT's released code upsamples: it repeats each error-set row
    /// <c>UpweightFactor</c> times in the data, so an epoch grows to <c>N + (UpweightFactor - 1) |E|</c> rows; drawing
    /// in proportion gives the same mix of rows in expectation at the usual epoch length.</summary>
    Sampling,

    /// <summary>Rows are shuffled as usual and the error set's cross-entropy is multiplied by <c>UpweightFactor</c>
    /// (the paper's objective written as a weighted loss).</summary>
    LossWeight,
}
