using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Datasets.ImageList;
using MLNet.FlatDebias.Tests.Infrastructure;
using MLNet.FlatDebias.Transforms;

namespace MLNet.FlatDebias.Tests.Transforms;

/// <summary><c>LoadImageList</c>: a user's CSV of relative image paths, read from any working directory, every image
/// checked up front with a message that names the file as written, the full path tried and the image folder.</summary>
[Collection(TorchCollection.Name)]  // changes the current directory
public sealed class ImageListTests : IDisposable
{
    private readonly TempFolder _folder = new("flatdebias-image-list");
    private readonly MLContext _ml = new(seed: 0);
    private readonly string _previous = Directory.GetCurrentDirectory();

    public ImageListTests()
    {
        Directory.CreateDirectory(_folder.Combine("app"));
        Directory.SetCurrentDirectory(_folder.Combine("app"));       // the application's folder, not the photos'
    }

    public void Dispose()
    {
        Directory.SetCurrentDirectory(_previous);
        _folder.Dispose();
    }

    private string Photos => _folder.Combine("photos");

    private string Csv => Path.Combine(Photos, ImageListFolderBuilder.CsvName);

    [Fact]
    public void Relative_paths_are_read_from_the_csvs_folder_and_given_as_full_paths()
    {
        var rows = ImageListFolderBuilder.Write(Photos, perGroup: 2);
        var data = _ml.Data.LoadImageList(Csv);

        Assert.Equal(["ImagePath", "Label", "Group", "Split"], data.Schema.Select(c => c.Name));
        Assert.All(data.Schema, c => Assert.Equal(TextDataViewType.Instance, c.Type));
        Assert.Equal(rows.Select(r => Path.GetFullPath(Path.Combine(Photos, r.Path))), data.GetColumn<string>(ImageListColumns.ImagePath));
        Assert.Equal(rows.Select(r => r.Label), data.GetColumn<string>(ImageListColumns.Label));
        Assert.Equal(rows.Select(r => r.Group), data.GetColumn<string>(ImageListColumns.Group));
        Assert.Equal(rows.Select(r => r.Split), data.GetColumn<string>(ImageListColumns.Split));

        var test = _ml.Data.LoadImageList(Csv, split: "TEST");                 // ignoring case
        Assert.Equal(rows.Where(r => r.Split == "test").Select(r => r.Label), test.GetColumn<string>(ImageListColumns.Label));
        Assert.Equal(8, test.GetColumn<string>(ImageListColumns.ImagePath).Count());
    }

    [Fact]
    public void Image_folder_argument_other_header_names_and_optional_columns()
    {
        var rows = ImageListFolderBuilder.Write(Photos);
        var elsewhere = _folder.Combine("lists", "mine.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(elsewhere)!);
        // ImagePath and Label in other cases, no group or split column, an extra column, a quoted field.
        File.WriteAllLines(elsewhere, ["id,IMAGEPATH,Label", .. rows.Select((r, i) => $"{i},\"{r.Path}\",{r.Label}")]);

        var data = _ml.Data.LoadImageList(elsewhere, imageFolder: Photos);
        Assert.Equal(["ImagePath", "Label"], data.Schema.Select(c => c.Name));
        Assert.Equal(Path.GetFullPath(Path.Combine(Photos, rows[0].Path)), data.GetColumn<string>(ImageListColumns.ImagePath).First());

        var e = Assert.Throws<ArgumentException>(() => _ml.Data.LoadImageList(elsewhere, imageFolder: Photos, split: "train"));
        Assert.Equal("split", e.ParamName);
        Assert.Contains("no split column", e.Message);
    }

    [Fact]
    public void Missing_image_names_the_line_the_path_as_written_the_full_path_and_the_image_folder()
    {
        var rows = ImageListFolderBuilder.Write(Photos);
        File.Delete(Path.Combine(Photos, rows[3].Path));
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadImageList(Csv));
        Assert.Contains(Csv, e.Message);
        Assert.Contains($"line 5: image file '{rows[3].Path}' does not exist", e.Message);
        Assert.Contains($"looked for '{Path.GetFullPath(Path.Combine(Photos, rows[3].Path))}'", e.Message);
        Assert.Contains($"imageFolder '{Path.GetFullPath(Photos)}'", e.Message);
        Assert.Contains("LoadImageList(csvPath, imageFolder: ...)", e.Message);

        // The wrong folder: every row's path is named as written and where it was looked for.
        var wrong = _folder.Combine("app");
        var all = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadImageList(Csv, imageFolder: wrong, validateImages: false));
        Assert.Contains($"has {rows.Count} invalid rows", all.Message);
        Assert.Contains($"looked for '{Path.Combine(wrong, rows[0].Path)}', relative to imageFolder '{wrong}'", all.Message);

        // Only the rows of the split asked for are checked.
        Assert.Equal(4, _ml.Data.LoadImageList(Csv, split: "val").GetColumn<string>(ImageListColumns.Label).Count());
    }

    [Theory]
    [InlineData("file,label", "Could not find column 'path'")]
    [InlineData("path,category", "Could not find column 'label'")]
    [InlineData("path,image,label", "2 columns for the same role (path, image)")]
    public void Header_errors_name_the_file_and_the_column(string header, string message)
    {
        Directory.CreateDirectory(Photos);
        File.WriteAllLines(Csv, [header, "a.png,b,c"]);
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadImageList(Csv));
        Assert.Contains(Csv, e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Bad_rows_unknown_split_and_missing_files_are_named()
    {
        var rows = ImageListFolderBuilder.Write(Photos);
        File.AppendAllLines(Csv, ["x.png,cat", ",cat,cat/indoor,train", "x.png,,cat/indoor,train"]);
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadImageList(Csv));
        Assert.Contains($"line {rows.Count + 2}: 2 fields where the header has 4", e.Message);
        Assert.Contains($"line {rows.Count + 3}: path is empty", e.Message);
        Assert.Contains($"line {rows.Count + 4}: label is empty", e.Message);

        ImageListFolderBuilder.Write(Photos);
        var none = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadImageList(Csv, split: "validation"));
        Assert.Contains("no row of split 'validation'; its splits are 'train', 'val', 'test'", none.Message);
        Assert.Throws<FileNotFoundException>(() => _ml.Data.LoadImageList(_folder.Combine("none.csv")));
        Assert.Throws<DirectoryNotFoundException>(() => _ml.Data.LoadImageList(Csv, imageFolder: _folder.Combine("none")));
    }

    [Fact]
    public void Relative_paths_that_cannot_be_found_fail_the_fingerprint_naming_the_file_and_image_folder()
    {
        var rows = ImageListFolderBuilder.Write(Photos);
        var raw = _ml.Data.LoadFromTextFile<PhotoRow>(Csv, separatorChar: ',', hasHeader: true);
        var e = Assert.Throws<FileNotFoundException>(() => FeatureFileKey.DescribeDataset(_ml, raw));
        var tried = Path.GetFullPath(rows[0].Path);                              // against the current directory
        Assert.Equal(tried, e.FileName);
        Assert.Contains($"row 0 (column 'ImagePath'): image file '{rows[0].Path}' does not exist: looked for '{tried}'", e.Message);
        Assert.Contains($"current directory '{_folder.Combine("app")}' because imageFolder is not set", e.Message);
        Assert.Contains("DescribeDataset(mlContext, data, imageFolder: ...)", e.Message);

        var wrong = Assert.Throws<FileNotFoundException>(() => FeatureFileKey.DescribeDataset(_ml, raw, imageFolder: _folder.Path));
        Assert.Contains($"relative to imageFolder '{_folder.Path}'", wrong.Message);

        // With the folder, or with LoadImageList's full paths, the files are seen.
        Assert.StartsWith($"rows {rows.Count}, sha256 ", FeatureFileKey.DescribeDataset(_ml, raw, imageFolder: Photos));
        Assert.StartsWith($"rows {rows.Count}, sha256 ", FeatureFileKey.DescribeDataset(_ml, _ml.Data.LoadImageList(Csv)));
    }

    [Fact]
    public void Overwritten_image_changes_the_fingerprint_of_the_loaded_list()
    {
        var rows = ImageListFolderBuilder.Write(Photos, size: 20);
        var before = FeatureFileKey.DescribeDataset(_ml, _ml.Data.LoadImageList(Csv));
        Assert.Equal(before, FeatureFileKey.DescribeDataset(_ml, _ml.Data.LoadImageList(Csv)));
        ImageListFolderBuilder.Overwrite(Path.Combine(Photos, rows[2].Path), 20);
        Assert.NotEqual(before, FeatureFileKey.DescribeDataset(_ml, _ml.Data.LoadImageList(Csv)));
    }

    private sealed class PhotoRow
    {
        [LoadColumn(0)]
        public string ImagePath { get; set; } = "";

        [LoadColumn(1)]
        public string Label { get; set; } = "";
    }
}
