namespace MLNet.FlatDebias.Datasets.Mnist;

/// <summary>MNIST in memory: the training split (60,000 images) and the test split (10,000), 28×28 grey pixels.</summary>
/// <remarks>The arrays are shared, not copied: do not modify them.</remarks>
public sealed class MnistDataset
{
    /// <summary>Builds a dataset from arrays (the real files, or small data made in code).</summary>
    /// <param name="trainImages">Training pixels <c>[image, row, column]</c>, 0 to 255.</param>
    /// <param name="trainLabels">Training digits, 0 to 9, one per image.</param>
    /// <param name="testImages">Test pixels, same height and width as the training images.</param>
    /// <param name="testLabels">Test digits, 0 to 9, one per image.</param>
    /// <exception cref="ArgumentException">Counts or sizes disagree, or a label is not a digit.</exception>
    public MnistDataset(byte[,,] trainImages, byte[] trainLabels, byte[,,] testImages, byte[] testLabels)
    {
        ArgumentNullException.ThrowIfNull(trainImages);
        ArgumentNullException.ThrowIfNull(trainLabels);
        ArgumentNullException.ThrowIfNull(testImages);
        ArgumentNullException.ThrowIfNull(testLabels);
        Check(trainImages, trainLabels, "training");
        Check(testImages, testLabels, "test");
        if (trainImages.GetLength(1) != testImages.GetLength(1) || trainImages.GetLength(2) != testImages.GetLength(2))
            throw new ArgumentException($"Training images are {trainImages.GetLength(1)}x{trainImages.GetLength(2)} but test images are {testImages.GetLength(1)}x{testImages.GetLength(2)}.", nameof(testImages));
        TrainImages = trainImages;
        TrainLabels = trainLabels;
        TestImages = testImages;
        TestLabels = testLabels;
    }

    /// <summary>Training pixels <c>[image, row, column]</c>, 0 (background) to 255 (ink).</summary>
    public byte[,,] TrainImages { get; }

    /// <summary>Training digits, 0 to 9.</summary>
    public byte[] TrainLabels { get; }

    /// <summary>Test pixels <c>[image, row, column]</c>.</summary>
    public byte[,,] TestImages { get; }

    /// <summary>Test digits, 0 to 9.</summary>
    public byte[] TestLabels { get; }

    /// <summary>Image height in pixels (28 for MNIST).</summary>
    public int Height => TrainImages.GetLength(1);

    /// <summary>Image width in pixels (28 for MNIST).</summary>
    public int Width => TrainImages.GetLength(2);

    /// <summary>Reads the four files.</summary>
    /// <param name="files">Where they are (<see cref="MnistFiles.Locate(string?, bool)"/>).</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="InvalidDataException">A file is not a valid IDX file, or counts disagree; the message names the file.</exception>
    public static MnistDataset Load(MnistFiles files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var trainImages = IdxReader.ReadImages(files.TrainImages);
        var trainLabels = IdxReader.ReadLabels(files.TrainLabels);
        var testImages = IdxReader.ReadImages(files.TestImages);
        var testLabels = IdxReader.ReadLabels(files.TestLabels);
        try { return new MnistDataset(trainImages, trainLabels, testImages, testLabels); }
        catch (ArgumentException e) { throw new InvalidDataException($"MNIST files in '{files.Folder}' do not fit together: {e.Message}", e); }
    }

    /// <summary>Finds (fetching if needed, see <see cref="MnistFiles.Locate(string?, bool)"/>) and reads MNIST.</summary>
    /// <param name="folder">A folder that may hold the files; null (default) for the cache.</param>
    /// <returns>The dataset.</returns>
    /// <exception cref="FileNotFoundException">The files are nowhere and could not be fetched.</exception>
    /// <exception cref="InvalidDataException">A file is not a valid IDX file.</exception>
    public static MnistDataset Load(string? folder = null) => Load(MnistFiles.Locate(folder));

    private static void Check(byte[,,] images, byte[] labels, string split)
    {
        if (images.GetLength(0) != labels.Length)
            throw new ArgumentException($"{images.GetLength(0)} {split} images but {labels.Length} {split} labels.", nameof(labels));
        if (images.GetLength(1) < 1 || images.GetLength(2) < 1)
            throw new ArgumentException($"The {split} images are empty ({images.GetLength(1)}x{images.GetLength(2)}).", nameof(images));
        int bad = Array.FindIndex(labels, l => l > 9);
        if (bad >= 0) throw new ArgumentException($"{split} label {bad} is {labels[bad]}; MNIST labels are digits 0 to 9.", nameof(labels));
    }
}
