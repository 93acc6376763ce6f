using MLNet.FlatDebias.Tests.Infrastructure;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.FlatDebias.Transforms;
using MLNet.FlatDebias.Datasets.Waterbirds;

namespace MLNet.FlatDebias.Tests.Transforms;

public sealed class WaterbirdsLoaderTests : IDisposable
{
    private readonly TempFolder _folder = new("flatdebias-waterbirds");
    private readonly MLContext _ml = new(seed: 0);

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Folder_loads_with_labels_places_groups_and_splits()
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 3);
        var data = _ml.Data.LoadWaterbirds(_folder.Path);

        var schema = data.Schema;
        Assert.Equal(["ImagePath", "Label", "Place", "Group", "Split", "ImageId"], schema.Select(c => c.Name));
        Assert.Equal(TextDataViewType.Instance, schema["ImagePath"].Type);
        Assert.Equal(TextDataViewType.Instance, schema["Split"].Type);
        Assert.Equal(NumberDataViewType.Int32, schema["ImageId"].Type);
        AssertKey(schema["Label"], ["landbird", "waterbird"]);
        AssertKey(schema["Place"], ["land", "water"]);
        AssertKey(schema["Group"], ["landbird/land", "landbird/water", "waterbird/land", "waterbird/water"]);
        Assert.Equal(WaterbirdsNames.Groups, ["landbird/land", "landbird/water", "waterbird/land", "waterbird/water"]);

        var loaded = ReadRows(data);
        Assert.Equal(rows.Count, loaded.Count);
        string[] splitNames = ["train", "val", "test"];
        foreach (var (expected, actual) in rows.Zip(loaded))
        {
            Assert.Equal(expected.Id, actual.Id);
            Assert.Equal(Path.GetFullPath(Path.Combine(_folder.Path, expected.File)), actual.Path);
            Assert.True(Path.IsPathRooted(actual.Path));
            Assert.Equal((uint)expected.Y + 1, actual.Label);
            Assert.Equal((uint)expected.Place + 1, actual.Place);
            Assert.Equal((uint)(2 * expected.Y + expected.Place) + 1, actual.Group);
            Assert.Equal(splitNames[expected.Split], actual.Split);
        }
    }

    [Theory]
    [InlineData(WaterbirdsSplit.Train, "train")]
    [InlineData(WaterbirdsSplit.Validation, "val")]
    [InlineData(WaterbirdsSplit.Test, "test")]
    public void Split_argument_keeps_only_that_split(WaterbirdsSplit split, string name)
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path);
        var loaded = ReadRows(_ml.Data.LoadWaterbirds(_folder.Path, split));
        Assert.Equal(rows.Count(r => r.Split == (int)split), loaded.Count);
        Assert.All(loaded, r => Assert.Equal(name, r.Split));
        Assert.Equal(4, loaded.Select(r => r.Group).Distinct().Count());
    }

    [Fact]
    public void Parent_of_the_distributed_folder_is_accepted_and_extra_columns_and_order_do_not_matter()
    {
        var dataset = _folder.Combine("waterbird_complete95_forest2water2");
        Directory.CreateDirectory(dataset);
        WaterbirdsFolderBuilder.WritePng(Path.Combine(dataset, "a", "1.jpg"), 8, 8, (_, _) => SkiaSharp.SKColors.Red, SkiaSharp.SKEncodedImageFormat.Jpeg);
        WaterbirdsFolderBuilder.WritePng(Path.Combine(dataset, "a", "2.png"), 8, 8, (_, _) => SkiaSharp.SKColors.Blue);
        // WILDS' copy has an extra column; order by header name. Quoted fields and 1.0-style codes are read too.
        WaterbirdsFolderBuilder.WriteMetadata(dataset, ["\"a/1.jpg\",1,1.0,2,0,/o/ocean/1.jpg,x", "a/2.png,2,0,1,1,\"/b/bamboo, forest/2.jpg\",y"],
            header: "img_filename,img_id,y,split,place,place_filename,extra");
        var loaded = ReadRows(_ml.Data.LoadWaterbirds(_folder.Path));
        Assert.Equal([1, 2], loaded.Select(r => r.Id));
        Assert.Equal([3u, 2u], loaded.Select(r => r.Group));
        Assert.Equal(["test", "val"], loaded.Select(r => r.Split));
    }

    [Fact]
    public void Missing_root_folder_is_named()
    {
        var root = _folder.Combine("nowhere");
        var e = Assert.Throws<DirectoryNotFoundException>(() => _ml.Data.LoadWaterbirds(root));
        Assert.Contains(root, e.Message);
    }

    [Fact]
    public void Missing_metadata_file_is_named()
    {
        var e = Assert.Throws<FileNotFoundException>(() => _ml.Data.LoadWaterbirds(_folder.Path));
        Assert.Contains(Path.Combine(_folder.Path, "metadata.csv"), e.Message);
    }

    [Theory]
    [InlineData("img_id")]
    [InlineData("img_filename")]
    [InlineData("y")]
    [InlineData("split")]
    [InlineData("place")]
    [InlineData("place_filename")]
    public void Missing_column_is_named(string column)
    {
        WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1);
        var header = string.Join(",", WaterbirdsFolderBuilder.Header.Split(',').Select(c => c == column ? "something_else" : c));
        var lines = File.ReadAllLines(_folder.Combine("metadata.csv")).Skip(1).ToList();
        WaterbirdsFolderBuilder.WriteMetadata(_folder.Path, lines, header);
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadWaterbirds(_folder.Path));
        Assert.Contains(_folder.Combine("metadata.csv"), e.Message);
        Assert.Contains($"Could not find column '{column}'", e.Message);
    }

    [Theory]
    [InlineData(2, "2", "y must be 0 (land bird) or 1 (water bird), got '2'")]
    [InlineData(2, "-1", "y must be 0 (land bird) or 1 (water bird), got '-1'")]
    [InlineData(3, "3", "split must be 0 (train), 1 (val) or 2 (test), got '3'")]
    [InlineData(4, "2", "place must be 0 (land) or 1 (water), got '2'")]
    [InlineData(4, "water", "place must be 0 (land) or 1 (water), got 'water'")]
    [InlineData(0, "x", "img_id must be an integer, got 'x'")]
    public void Value_out_of_range_names_the_file_line_and_row(int field, string value, string message)
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1);
        var lines = File.ReadAllLines(_folder.Combine("metadata.csv")).Skip(1).ToList();
        var fields = lines[4].Split(',');
        fields[field] = value;
        lines[4] = string.Join(",", fields);
        WaterbirdsFolderBuilder.WriteMetadata(_folder.Path, lines);

        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadWaterbirds(_folder.Path, WaterbirdsSplit.Test));
        Assert.Contains(_folder.Combine("metadata.csv"), e.Message);
        Assert.Contains(field == 0 ? "line 6: " : $"line 6 (img_id {rows[4].Id}): ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Missing_image_names_the_file_and_the_row()
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1);
        var missing = Path.GetFullPath(_folder.Combine(rows[7].File));
        File.Delete(missing);
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadWaterbirds(_folder.Path, validateImages: false));
        Assert.Contains(_folder.Combine("metadata.csv"), e.Message);
        Assert.Contains($"line 9 (img_id {rows[7].Id}): image file '{missing}' does not exist", e.Message);
        // Only the rows that are returned are checked.
        Assert.Equal(4, ReadRows(_ml.Data.LoadWaterbirds(_folder.Path, WaterbirdsSplit.Test)).Count);
    }

    [Fact]
    public void Undecodable_image_names_the_file_and_the_row_unless_only_existence_is_checked()
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1);
        var broken = Path.GetFullPath(_folder.Combine(rows[2].File));
        File.WriteAllText(broken, "this is not a PNG");
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadWaterbirds(_folder.Path));
        Assert.Contains($"line 4 (img_id {rows[2].Id}): image file '{broken}' is not an image", e.Message);
        Assert.Equal(rows.Count, ReadRows(_ml.Data.LoadWaterbirds(_folder.Path, validateImages: false)).Count);
    }

    [Fact]
    public void Several_bad_rows_are_listed_together_and_nothing_is_returned()
    {
        var rows = WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1);
        File.Delete(_folder.Combine(rows[0].File));
        File.Delete(_folder.Combine(rows[1].File));
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadWaterbirds(_folder.Path));
        Assert.Contains("has 2 invalid rows", e.Message);
        Assert.Contains("line 2 (img_id 1)", e.Message);
        Assert.Contains("line 3 (img_id 2)", e.Message);
    }

    [Fact]
    public void Repeated_img_id_and_wrong_field_count_are_errors()
    {
        WaterbirdsFolderBuilder.Write(_folder.Path, perGroup: 1);
        var lines = File.ReadAllLines(_folder.Combine("metadata.csv")).Skip(1).ToList();
        lines[3] = "1" + lines[3][lines[3].IndexOf(',')..];
        lines[5] += ",extra";
        WaterbirdsFolderBuilder.WriteMetadata(_folder.Path, lines);
        var e = Assert.Throws<InvalidDataException>(() => _ml.Data.LoadWaterbirds(_folder.Path));
        Assert.Contains("line 5 (img_id 1): img_id 1 already appears on line 2", e.Message);
        Assert.Contains("line 7: 7 fields where the header has 6", e.Message);
    }

    private static void AssertKey(DataViewSchema.Column column, string[] names)
    {
        var key = Assert.IsType<KeyDataViewType>(column.Type);
        Assert.Equal((ulong)names.Length, key.Count);
        Assert.Equal(typeof(uint), key.RawType);
        var values = default(VBuffer<ReadOnlyMemory<char>>);
        column.GetKeyValues(ref values);
        Assert.Equal(names, values.DenseValues().Select(v => v.ToString()));
    }

    internal sealed record Row(string Path, uint Label, uint Place, uint Group, string Split, int Id);

    internal static List<Row> ReadRows(IDataView data)
    {
        var rows = new List<Row>();
        using var cursor = data.GetRowCursor(data.Schema);
        var path = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema["ImagePath"]);
        var label = cursor.GetGetter<uint>(data.Schema["Label"]);
        var place = cursor.GetGetter<uint>(data.Schema["Place"]);
        var group = cursor.GetGetter<uint>(data.Schema["Group"]);
        var split = cursor.GetGetter<ReadOnlyMemory<char>>(data.Schema["Split"]);
        var id = cursor.GetGetter<int>(data.Schema["ImageId"]);
        ReadOnlyMemory<char> p = default, s = default;
        uint l = 0, pl = 0, g = 0;
        int i = 0;
        while (cursor.MoveNext())
        {
            path(ref p); label(ref l); place(ref pl); group(ref g); split(ref s); id(ref i);
            rows.Add(new Row(p.ToString(), l, pl, g, s.ToString(), i));
        }
        return rows;
    }
}
