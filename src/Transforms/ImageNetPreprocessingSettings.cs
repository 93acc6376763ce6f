namespace MLNet.FlatDebias.Transforms;

/// <summary>The checked settings of <see cref="ImageNetPreprocessingEstimator"/>, shared with its transformer.</summary>
internal sealed record ImageNetPreprocessingSettings(string OutputColumnName, string ImagePathColumnName, string? ImageFolder, int Resize, int Crop, float[] Mean, float[] Std)
{
    /// <summary>Checks the arguments of the catalog method, naming the one that is wrong.</summary>
    public static ImageNetPreprocessingSettings Create(string outputColumnName, string imagePathColumnName, string? imageFolder, int resize, int crop, float[]? mean, float[]? std)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outputColumnName);
        ArgumentException.ThrowIfNullOrWhiteSpace(imagePathColumnName);
        if (resize is < 1 or > ImageNetPreprocessingEstimator.MaximumSize)
            throw new ArgumentOutOfRangeException(nameof(resize), resize, $"resize must be in [1, {ImageNetPreprocessingEstimator.MaximumSize}] pixels.");
        if (crop < 1 || crop > resize)
            throw new ArgumentOutOfRangeException(nameof(crop), crop, $"crop must be in [1, resize = {resize}] pixels.");
        mean = CheckChannels(mean ?? [.. ImageNetPreprocessingEstimator.ImageNetMean], nameof(mean), positive: false);
        std = CheckChannels(std ?? [.. ImageNetPreprocessingEstimator.ImageNetStd], nameof(std), positive: true);
        // ML.NET's LoadImages makes its folder absolute when it is created; the same folder here (messages, Description).
        var folder = string.IsNullOrWhiteSpace(imageFolder) ? null : Path.GetFullPath(imageFolder);
        return new(outputColumnName, imagePathColumnName, folder, resize, crop, mean, std);
    }

    private static float[] CheckChannels(float[] values, string name, bool positive)
    {
        if (values.Length != 3)
            throw new ArgumentException($"{name} must have 3 values (red, green, blue), got {values.Length}.", name);
        foreach (var v in values)
        {
            if (!float.IsFinite(v) || (positive && v <= 0))
                throw new ArgumentOutOfRangeException(name, v, positive ? $"{name} values must be finite and > 0." : $"{name} values must be finite.");
        }
        return (float[])values.Clone();
    }
}
