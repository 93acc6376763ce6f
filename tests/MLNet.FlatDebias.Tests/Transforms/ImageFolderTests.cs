using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary>The image folder of a saved chain: what it keeps, and setting another one at load or scoring time
/// (<c>LoadWithImageFolder</c>, <c>WithImageFolder</c>) after the images moved.</summary>
[Collection(TorchCollection.Name)]
public sealed class ImageFolderTests : IDisposable
{
    private readonly TempFolder _folder = new("flatdebias-image-folder");
    private readonly MLContext _ml = new(seed: 0);

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Saved_chain_keeps_its_folder_and_scores_from_another_one_after_the_images_moved()
    {
        var training = _folder.Combine("training");
        var rows = ImageListFolderBuilder.Write(training, size: 20);
        var relative = _ml.Data.LoadFromEnumerable(rows.Select(r => new PathRow { ImagePath = r.Path }).ToList());
        var preprocessing = _ml.Transforms.ImageNetPreprocessing(imageFolder: training, resize: 12, crop: 8).Fit(relative);
        var chain = preprocessing.Append(_ml.Transforms.Concatenate("Copy", "Features").Fit(preprocessing.Transform(relative)));
        var expected = Features(chain.Transform(relative));
        var path = _folder.Combine("model.zip");
        _ml.Model.Save(chain, relative.Schema, path);

        var saved = new MLContext().Model.Load(path, out _);
        Assert.Equal([training], _ml.Model.GetImageFolders(saved));

        // Deployed elsewhere: the training folder is gone.
        var deployed = _folder.Combine("deployed");
        Directory.Move(training, deployed);
        var e = Assert.ThrowsAny<Exception>(() => Features(saved.Transform(relative)));
        Assert.Contains(Path.Combine(training, rows[0].Path), Messages(e));

        var rebased = new MLContext().Model.LoadWithImageFolder(path, deployed, out var schema);
        Assert.NotNull(schema.GetColumnOrNull("ImagePath"));
        Assert.Equal([deployed], _ml.Model.GetImageFolders(rebased));
        Assert.Equal(expected, Features(rebased.Transform(relative)));
        Assert.Equal([training], _ml.Model.GetImageFolders(saved));                     // the loaded model is not changed

        // A prediction engine over the re-based chain, and the in-memory transformer re-based the same way.
        var engine = _ml.Model.CreatePredictionEngine<PathRow, FeaturesRow>(rebased);
        Assert.Equal(expected[1], engine.Predict(new PathRow { ImagePath = rows[1].Path }).Features);
        var inMemory = _ml.Model.WithImageFolder(preprocessing, relative.Schema, deployed);
        var typed = Assert.IsType<ImageNetPreprocessingTransformer>(inMemory);
        Assert.Equal(deployed, typed.ImageFolder);
        Assert.Equal(expected, Features(inMemory.Transform(relative)));
        Assert.Equal(training, preprocessing.ImageFolder);
    }

    [Fact]
    public void Full_paths_score_under_any_folder_and_a_relative_folder_is_made_absolute()
    {
        var photos = _folder.Combine("photos");
        var rows = ImageListFolderBuilder.Write(photos, size: 20);
        var full = _ml.Data.LoadImageList(Path.Combine(photos, ImageListFolderBuilder.CsvName));
        var preprocessing = _ml.Transforms.ImageNetPreprocessing(resize: 12, crop: 8).Fit(full);
        Assert.Equal(new string?[] { null }, _ml.Model.GetImageFolders(preprocessing));
        var expected = Features(preprocessing.Transform(full));

        var previous = Directory.GetCurrentDirectory();
        Directory.SetCurrentDirectory(_folder.Path);
        try
        {
            var rebased = _ml.Model.WithImageFolder(preprocessing, full.Schema, "photos");
            Assert.Equal([photos], _ml.Model.GetImageFolders(rebased));
            Assert.Equal(expected, Features(rebased.Transform(full)));                    // absolute paths are read as they are
            var relative = _ml.Data.LoadFromEnumerable(rows.Select(r => new PathRow { ImagePath = r.Path }).ToList());
            Assert.Equal(expected, Features(rebased.Transform(relative)));

            // A relative folder given to ImageNetPreprocessing is made absolute (as ML.NET's LoadImages makes it), so the
            // saved chain holds the training machine's full folder.
            var saved = _ml.Transforms.ImageNetPreprocessing(imageFolder: "photos", resize: 12, crop: 8).Fit(relative);
            Assert.Equal(photos, saved.ImageFolder);
            Assert.Equal([photos], _ml.Model.GetImageFolders(saved));
            _ml.Model.Save(saved, relative.Schema, "relative.zip");
            Assert.Equal([photos], _ml.Model.GetImageFolders(_ml.Model.Load("relative.zip", out _)));
        }
        finally
        {
            Directory.SetCurrentDirectory(previous);
        }
    }

    [Fact]
    public void Missing_folder_or_a_model_without_images_is_refused()
    {
        var data = _ml.Data.LoadFromEnumerable([new PathRow { ImagePath = "x.png" }]);
        var preprocessing = _ml.Transforms.ImageNetPreprocessing(resize: 12, crop: 8).Fit(data);
        var missing = Assert.Throws<DirectoryNotFoundException>(() => _ml.Model.WithImageFolder(preprocessing, data.Schema, _folder.Combine("none")));
        Assert.Contains("imageFolder", missing.Message);
        var copy = _ml.Transforms.CopyColumns("Other", "ImagePath").Fit(data);
        Assert.Empty(_ml.Model.GetImageFolders(copy));
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => _ml.Model.WithImageFolder(copy, data.Schema, _folder.Path)).ParamName);
    }

    [Fact]
    public void Missing_relative_image_while_reading_names_the_path_as_written_the_full_path_and_the_image_folder()
    {
        var photos = _folder.Combine("photos");
        var rows = ImageListFolderBuilder.Write(photos, size: 20);
        File.Delete(Path.Combine(photos, rows[2].Path));
        var data = _ml.Data.LoadFromEnumerable(rows.Select(r => new PathRow { ImagePath = r.Path }).ToList());
        var output = _ml.Transforms.ImageNetPreprocessing(imageFolder: photos, resize: 12, crop: 8).Fit(data).Transform(data);
        var e = Assert.Throws<InvalidDataException>(() => Features(output));
        Assert.Contains($"row 2 (column 'ImagePath'): image file '{rows[2].Path}' does not exist: looked for '{Path.Combine(photos, rows[2].Path)}'", e.Message);
        Assert.Contains($"relative to imageFolder '{photos}' (ImageNetPreprocessing(imageFolder: ...)", e.Message);
        Assert.Contains(Path.Combine(photos, rows[2].Path), Messages(e.InnerException!));   // the same file as ML.NET's exception
    }

    [Fact]
    public void Missing_images_when_a_feature_file_is_made_name_the_feature_file_and_the_image_folder()
    {
        var photos = _folder.Combine("photos");
        var rows = ImageListFolderBuilder.Write(photos, size: 20);
        var data = _ml.Data.LoadFromEnumerable(rows.Select(r => new PathRow { ImagePath = r.Path }).ToList());
        var preprocessing = _ml.Transforms.ImageNetPreprocessing(resize: 12, crop: 8).Fit(data);   // no folder: the user's mistake
        var file = _folder.Combine("features", "all.idv");
        var e = Assert.Throws<InvalidDataException>(() => FeatureFile.LoadOrCreate(_ml, preprocessing.Transform(data), file, new FeatureFileKey("d", "p", "b")));
        Assert.Contains($"Could not make the feature file '{file}'", e.Message);
        Assert.Matches($"image file '(cat|dog)/[a-z]+_[0-9]+\\.png' does not exist: looked for '{System.Text.RegularExpressions.Regex.Escape(Directory.GetCurrentDirectory())}/", e.Message);
        Assert.Contains("because imageFolder is not set; set it to the folder the paths are relative to (ImageNetPreprocessing(imageFolder: ...)", e.Message);
    }

    private static string Messages(Exception e)
    {
        var all = new List<string>();
        for (Exception? x = e; x is not null; x = x.InnerException) all.Add(x.Message);
        return string.Join(" | ", all);
    }

    private static float[][] Features(IDataView data) => data.GetColumn<float[]>("Features").ToArray();

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    private sealed class FeaturesRow
    {
        public float[] Features { get; set; } = [];
    }
}
