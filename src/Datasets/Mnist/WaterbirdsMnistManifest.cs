using System.Text.Json;

namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>What a <see cref="WaterbirdsMnist"/> folder was written from; a folder whose manifest equals the one
/// asked for, with all its files present, is not written again.</summary>
internal sealed record WaterbirdsMnistManifest(int Format, int ScaleDivisor, int Seed, int ImageSize, int MnistTrainRows, int MnistTestRows, string MnistFingerprint, int Images)
{
    public const string FileName = "flatdebias-waterbirds-mnist.json";

    /// <summary>Bumped whenever the images or the metadata a given set of arguments produces change.</summary>
    public const int CurrentFormat = 1;

    public static WaterbirdsMnistManifest? TryRead(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<WaterbirdsMnistManifest>(File.ReadAllText(path)); }
        catch (JsonException) { return null; }
    }

    public void Write(string folder)
        => File.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>FNV-1a over the labels and the first images of both splits: tells real MNIST from other data of the same size.</summary>
    public static string Fingerprint(MnistDataset mnist)
    {
        ulong hash = 14695981039346656037UL;
        void Add(byte b) => hash = (hash ^ b) * 1099511628211UL;
        foreach (var b in mnist.TrainLabels) Add(b);
        foreach (var b in mnist.TestLabels) Add(b);
        foreach (var images in new[] { mnist.TrainImages, mnist.TestImages })
            for (int i = 0; i < Math.Min(16, images.GetLength(0)); i++)
                for (int y = 0; y < images.GetLength(1); y++)
                    for (int x = 0; x < images.GetLength(2); x++) Add(images[i, y, x]);
        return hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
