using static TorchSharp.torch;

namespace MLNet.FlatDebias.Trainers.Engine;

/// <summary>
/// The Waterbirds literature's training augmentation on a batch: a random resized crop (area 70-100 %,
/// aspect ratio 3/4-4/3, resized back bilinearly) and a horizontal flip with probability 1/2, drawn per image
/// from the epoch's generator.
/// </summary>
internal static class ImageAugmentation
{
    public static Tensor Apply(Tensor batch, Generator generator)
    {
        long n = batch.shape[0], h = batch.shape[2], w = batch.shape[3];
        var draws = rand([n, 5], generator: generator, dtype: ScalarType.Float64).data<double>().ToArray();
        var images = new List<Tensor>((int)n);
        for (long i = 0; i < n; i++)
        {
            double area = 0.7 + 0.3 * draws[i * 5];
            double aspect = Math.Exp(Math.Log(3.0 / 4) + (Math.Log(4.0 / 3) - Math.Log(3.0 / 4)) * draws[i * 5 + 1]);
            long cropH = Math.Clamp((long)Math.Round(Math.Sqrt(area * h * w / aspect)), 1, h);
            long cropW = Math.Clamp((long)Math.Round(Math.Sqrt(area * h * w * aspect)), 1, w);
            long top = (long)Math.Floor(draws[i * 5 + 2] * (h - cropH + 1));
            long left = (long)Math.Floor(draws[i * 5 + 3] * (w - cropW + 1));
            var crop = batch[TensorIndex.Slice(i, i + 1), TensorIndex.Colon, TensorIndex.Slice(top, top + cropH), TensorIndex.Slice(left, left + cropW)];
            var resized = nn.functional.interpolate(crop, [h, w], mode: InterpolationMode.Bilinear, align_corners: false);
            images.Add(draws[i * 5 + 4] < 0.5 ? resized.flip(3) : resized);
        }
        return cat(images, 0);
    }
}
