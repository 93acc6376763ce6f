namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary><see cref="PatchedMnist"/>'s rule: label = digit mod 3, attribute = the corner a white square patch is drawn in.</summary>
internal sealed class PatchedMnistBias() : MnistBias(PatchedMnist.ClassNames, PatchedMnist.PositionNames, PatchedMnist.AttributeColumnName)
{
    public static PatchedMnistBias Instance { get; } = new();

    public override int MinimumSide => PatchedMnist.PatchSize + 2 * PatchedMnist.PatchMargin;

    public override int Label(int digit) => digit % 3;

    public override void Draw(Span<float> image, int height, int width, int attribute)
    {
        var (top, left) = PatchedMnist.PatchCorner(attribute, height, width);
        for (int y = top; y < top + PatchedMnist.PatchSize; y++)
            image.Slice(y * width + left, PatchedMnist.PatchSize).Fill(PatchedMnist.PatchValue);
    }
}
