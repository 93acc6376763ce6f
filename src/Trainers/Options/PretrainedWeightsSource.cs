using MLNet.FlatDebias.Trainers.Networks;
namespace MLNet.FlatDebias.Trainers;

/// <summary>Built-in starting weights for the network.</summary>
public enum PretrainedWeightsSource
{
    /// <summary>None built in: random initialisation, or <see cref="NetworkTrainerOptions.PretrainedWeightsPath"/> when set.</summary>
    None,

    /// <summary>The ImageNet-trained ResNet-18 that ships in the NuGet package
    /// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> (the only ImageNet weights reachable on the project's build
    /// machines). Its layer4 has three blocks ([2, 2, 2, 3]); the network must be
    /// <see cref="NetworkKind.ResNet18"/> on ImageNet-normalised RGB input (as
    /// <c>ImageNetPreprocessing</c> produces). The application references that package (its model is copied to
    /// <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c>), or <see cref="NetworkTrainerOptions.PretrainedWeightsPath"/>
    /// names the <c>ResNet18.onnx</c> file.</summary>
    ImageNetResNet18,
}
