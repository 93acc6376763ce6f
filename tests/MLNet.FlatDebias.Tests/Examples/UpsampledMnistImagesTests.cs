using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Datasets.Mnist;
using MLNet.FlatDebias.Examples;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Tests.Transforms;

namespace MLNet.FlatDebias.Tests.Examples;

/// <summary>The fair benchmark's <c>sr18</c> input: Striped MNIST as the ResNet-18's 3 x 224 x 224 ImageNet-normalised
/// images, checked pixel by pixel against the obvious computation.</summary>
[Collection(TorchCollection.Name)]
public sealed class UpsampledMnistImagesTests
{
    [Fact]
    public void Each_pixel_is_the_grey_pixel_it_repeats_normalised_per_channel_and_labels_and_groups_are_kept()
    {
        var split = StripedMnist.Create(MnistData.Dataset, 0.1, seed: 3, trainSize: 20, validationSize: 8, testSize: 8).Validation;
        var ml = new MLContext(0);
        var view = UpsampledMnistImages.Create(ml, split);
        Assert.Equal(new VectorDataViewType(NumberDataViewType.Single, 3, 224, 224), view.Schema["Features"].Type);
        var images = view.GetColumn<float[]>("Features").ToList();
        var groups = view.GetColumn<uint>("Group").ToList();
        var labels = view.GetColumn<uint>("Label").ToList();
        float[] mean = [0.485f, 0.456f, 0.406f], deviation = [0.229f, 0.224f, 0.225f];
        for (int row = 0; row < split.Count; row++)
        {
            var grey = split.GetImage(row);
            foreach (var (c, y, x) in new[] { (0, 0, 0), (1, 100, 37), (2, 223, 223), (0, 57, 200), (2, 8, 15) })
                // The same float operations on the same operands: exact (a tolerance would only hide a wrong pixel).
                Assert.Equal((grey[(y / 8) * 28 + x / 8] - mean[c]) / deviation[c], images[row][(c * 224 + y) * 224 + x]);
            Assert.Equal((uint)split.Labels[row] + 1, labels[row]);        // key values are 1-based
            Assert.Equal((uint)split.Group(row) + 1, groups[row]);
        }
        Assert.Contains("rows 8, sha256 ", UpsampledMnistImages.DescribeSplit(split, "v"));
        Assert.NotEqual(UpsampledMnistImages.DescribeSplit(split, "v"),
            UpsampledMnistImages.DescribeSplit(StripedMnist.Create(MnistData.Dataset, 0.1, seed: 4, trainSize: 20, validationSize: 8, testSize: 8).Validation, "v"));
    }
}
