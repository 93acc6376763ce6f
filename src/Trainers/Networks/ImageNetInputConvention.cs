namespace MLNet.FlatDebias.Trainers.Networks;

/// <summary>The pixel convention the ImageNet ResNet-18 of <see cref="ImageNetResNet18"/> expects.</summary>
public enum ImageNetInputConvention
{
    /// <summary>
    /// This library's convention (the default): planar RGB on [0, 1], normalised per channel with ImageNet's mean
    /// (0.485, 0.456, 0.406) and standard deviation (0.229, 0.224, 0.225). The conversion to CNTK's convention is
    /// folded into the first convolution and batch norm; see <see cref="ImageNetResNet18"/> for its accuracy.
    /// </summary>
    Normalized,

    /// <summary>
    /// CNTK's convention, as the network was trained: planar BGR on 0-255 minus the mean image of
    /// <c>ResNetPreprocess.onnx</c> (channel means B 103.06, G 115.90, R 123.15), no scaling. The weights are loaded as
    /// they are.
    /// </summary>
    Cntk,
}
