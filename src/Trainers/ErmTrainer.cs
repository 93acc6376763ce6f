using MLNet.FlatDebias.Trainers.Objectives;
using MLNet.FlatDebias.Trainers.Engine;

namespace MLNet.FlatDebias.Trainers;

/// <summary>
/// Empirical risk minimisation: the baseline. Trains a network on the mean cross-entropy with the same engine,
/// data handling and model selection as <see cref="FlatDebiasTrainer"/> and <see cref="GroupDroTrainer"/>.
/// </summary>
/// <remarks>
/// <para><b>Input columns</b>: label (key), features (known-size Single vector, image shape from its dimensions
/// or <see cref="NetworkTrainerOptions.ImageShape"/>; a flat feature vector for the Mlp and Linear networks), optional
/// example weight. <b>Output columns</b>:
/// <c>Score</c> (Vector&lt;Single, K&gt;, class probabilities), <c>PredictedLabel</c> (key, the label's values).</para>
/// <para><b>Trainer characteristics</b>: multiclass; needs normalisation: no (but ImageNet-normalised inputs for
/// pretrained weights); needs a libtorch backend package in the application; exportable to ONNX: yes
/// (<see cref="ClassifierNetworkTransformer.ExportOnnx"/>).</para>
/// </remarks>
public sealed class ErmTrainer : NetworkTrainerBase<ErmTrainer.Options>
{
    internal ErmTrainer(Options options) : base(options) { }

    /// <summary>Options of <see cref="ErmTrainer"/>: only the shared ones.</summary>
    public sealed class Options : NetworkTrainerOptions
    {
    }

    private protected override TrainingObjective CreateObjective() => new ErmObjective();
}
