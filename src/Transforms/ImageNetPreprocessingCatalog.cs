using Microsoft.ML;
using MLNet.FlatDebias.Transforms;

namespace Microsoft.ML;

/// <summary>Catalog entry for <see cref="ImageNetPreprocessingEstimator"/>.</summary>
public static class ImageNetPreprocessingCatalog
{
    /// <summary>
    /// The Waterbirds / ImageNet preprocessing of image files: resize to <paramref name="resize"/>² (aspect ratio not
    /// kept), centre crop <paramref name="crop"/>², RGB, scale to [0, 1], then <c>(value − mean[c]) / std[c]</c> per
    /// channel. The output is a <c>Vector&lt;Single, 3·crop·crop&gt;</c> in planar RGB order without dimensions (see
    /// <see cref="ImageNetPreprocessingEstimator"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog (<c>mlContext.Transforms</c>).</param>
    /// <param name="outputColumnName">Output column (default <c>Features</c>).</param>
    /// <param name="imagePathColumnName">Input text column of image paths (default <c>ImagePath</c>).</param>
    /// <param name="imageFolder">Folder relative paths are resolved against; null (default) uses the paths as given
    /// (<see cref="WaterbirdsCatalog.LoadWaterbirds"/> and <see cref="ImageListCatalog.LoadImageList"/> write full paths;
    /// relative ones are read against the current directory). A relative folder is made absolute now (as ML.NET's
    /// <c>LoadImages</c> does), and a saved chain keeps that absolute folder: set another one at scoring time with
    /// <c>mlContext.Model.LoadWithImageFolder</c>. When it is set, pass the same folder to
    /// <c>FeatureFileKey.DescribeDataset</c>. An image that cannot be found fails the read with a message naming the path
    /// as written, the full path tried and this folder.</param>
    /// <param name="resize">Side of the resized square image in pixels, 1 to 4096 (default 256).</param>
    /// <param name="crop">Side of the centre crop in pixels, 1 to <paramref name="resize"/> (default 224).</param>
    /// <param name="mean">Per-channel mean on the [0, 1] scale, red, green, blue; 3 finite values (default ImageNet's
    /// 0.485, 0.456, 0.406).</param>
    /// <param name="std">Per-channel standard deviation on the [0, 1] scale; 3 values &gt; 0 (default ImageNet's 0.229,
    /// 0.224, 0.225).</param>
    /// <returns>The estimator.</returns>
    /// <exception cref="ArgumentException">A column name is empty, or <paramref name="mean"/> or <paramref name="std"/>
    /// does not have 3 values.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size or a <paramref name="std"/> value is out of range.</exception>
    public static ImageNetPreprocessingEstimator ImageNetPreprocessing(this TransformsCatalog catalog,
        string outputColumnName = "Features", string imagePathColumnName = "ImagePath", string? imageFolder = null,
        int resize = ImageNetPreprocessingEstimator.DefaultResize, int crop = ImageNetPreprocessingEstimator.DefaultCrop,
        float[]? mean = null, float[]? std = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ImageNetPreprocessingEstimator(catalog,
            ImageNetPreprocessingSettings.Create(outputColumnName, imagePathColumnName, imageFolder, resize, crop, mean, std));
    }
}
