namespace MLNet.FlatDebias.Common;

/// <summary>The ImageNet per-channel statistics (RGB, on [0, 1]) that torchvision's normalisation and pretrained
/// weights assume: <c>(x - mean) / std</c>.</summary>
internal static class ImageNetNormalization
{
    public static readonly double[] Mean = [0.485, 0.456, 0.406];

    public static readonly double[] Std = [0.229, 0.224, 0.225];
}
