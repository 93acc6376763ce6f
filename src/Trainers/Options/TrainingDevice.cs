namespace MLNet.FlatDebias.Trainers;

/// <summary>Where a network trains.</summary>
public enum TrainingDevice
{
    /// <summary>CUDA when a CUDA backend and a GPU are present, otherwise the CPU.</summary>
    Auto,

    /// <summary>The CPU (TorchSharp's CPU backend).</summary>
    Cpu,

    /// <summary>The first CUDA GPU; needs a CUDA backend package (see the README's "GPU" section).</summary>
    Cuda,
}
