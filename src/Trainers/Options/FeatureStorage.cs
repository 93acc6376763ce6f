namespace MLNet.FlatDebias.Trainers;

/// <summary>How the training set's features are held in memory once materialised.</summary>
/// <remarks>
/// Memory per image is <c>C * H * W</c> times 4 bytes (<see cref="Float32"/>), 2 (<see cref="Float16"/>) or 1
/// (<see cref="UInt8"/>). Waterbirds at 3x224x224: 4795 training images take 2.9 GB as float32, 1.4 GB as
/// float16. Batches are converted to float32 on the training device.
/// </remarks>
public enum FeatureStorage
{
    /// <summary><see cref="UInt8"/> when every value is a multiple of 1/255 in [0, 1] (e.g. pixels scaled by
    /// ExtractPixels), otherwise <see cref="Float32"/>. Both are exact.</summary>
    Auto,

    /// <summary>32-bit floats: exact, 4 bytes per value.</summary>
    Float32,

    /// <summary>16-bit floats: half the memory, about 3 significant digits (fine for normalised pixels).</summary>
    Float16,

    /// <summary>Bytes holding <c>round(255 * value)</c>; every value must be a multiple of 1/255 in [0, 1].</summary>
    UInt8,
}
