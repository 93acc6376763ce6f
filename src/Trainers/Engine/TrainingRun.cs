using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>What one <c>Fit</c> trains: the network (seeded, on the CPU), the materialised data, the device, the
/// checkpoint fingerprint of the run, and a factory for another network of the same kind (LfF's biased model).</summary>
internal sealed record TrainingRun(ClassifierNetwork Network, TensorDataset Training, TensorDataset? Validation, Device Device, string Fingerprint,
    Func<ClassifierNetwork> NetworkFactory);
