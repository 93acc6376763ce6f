namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary><see cref="StripedMnist"/>'s rule: label = digit parity, attribute = the orientation of faint background stripes.</summary>
internal sealed class StripedMnistBias() : MnistBias(StripedMnist.ClassNames, StripedMnist.OrientationNames, StripedMnist.AttributeColumnName)
{
    public static StripedMnistBias Instance { get; } = new();

    public override int MinimumSide => StripedMnist.StripeWidth + 1; // one stripe band and one gap band each way

    public override int Label(int digit) => digit % 2;

    public override void Draw(Span<float> image, int height, int width, int attribute)
    {
        for (int y = 0, p = 0; y < height; y++)
            for (int x = 0; x < width; x++, p++)
                if (StripedMnist.IsStripe(attribute, y, x)) image[p] = Math.Max(image[p], StripedMnist.StripeValue);
    }
}
