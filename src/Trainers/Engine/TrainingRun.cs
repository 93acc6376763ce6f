using MLNet.FlatDebias.Trainers.Networks;
using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>What one <c>Fit</c> trains: the network (seeded, on the CPU), the materialised data, the device and the
/// checkpoint fingerprint of the run.</summary>
internal sealed record TrainingRun(ClassifierNetwork Network, TensorDataset Training, TensorDataset? Validation, Device Device, string Fingerprint);
