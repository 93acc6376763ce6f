namespace MLNet.FlatDebias.Trainers;

/// <summary>Where the training and validation features are held once read from the data view.</summary>
/// <remarks>
/// The data view is read (images decoded and preprocessed) once per <c>Fit</c>, not once per epoch. Its features
/// then live in memory or in a file in <see cref="NetworkTrainerOptions.CacheDirectory"/> that is memory-mapped,
/// so the operating system pages rows in as batches need them and the training set may be larger than memory.
/// Both give the same batches, in the same shuffled order, and the same trained weights.
/// </remarks>
public enum FeatureCache
{
    /// <summary>In memory while the features read so far (as float32) fit in
    /// <see cref="NetworkTrainerOptions.MaxInMemoryFeatureBytes"/>; once they do not, they move to a file and the
    /// rest of the data view is written there.</summary>
    Auto,

    /// <summary>Always in memory, whatever the size.</summary>
    Memory,

    /// <summary>Always in a memory-mapped file in <see cref="NetworkTrainerOptions.CacheDirectory"/>.</summary>
    Disk,
}
