namespace MLNet.FlatDebias.Datasets.Waterbirds;

/// <summary>One row of a Waterbirds <c>metadata.csv</c>, values already range-checked.</summary>
/// <param name="ImageId">The <c>img_id</c> column.</param>
/// <param name="ImageFilename">The <c>img_filename</c> column: the image path relative to the dataset folder.</param>
/// <param name="Y">The <c>y</c> column: 0 land bird, 1 water bird.</param>
/// <param name="Split">The <c>split</c> column.</param>
/// <param name="Place">The <c>place</c> column: 0 land, 1 water.</param>
/// <param name="PlaceFilename">The <c>place_filename</c> column: the Places image the background came from (informative only).</param>
/// <param name="LineNumber">The 1-based line of the file the row was read from (the header is line 1); 0 when not read from a file.</param>
internal sealed record WaterbirdsMetadataRow(int ImageId, string ImageFilename, int Y, WaterbirdsSplit Split, int Place, string PlaceFilename, int LineNumber = 0)
{
    /// <summary>The group index 2·y + place.</summary>
    public int Group => WaterbirdsNames.Group(Y, Place);

    /// <summary>Where the row is, for messages: <c>line 7 (img_id 6)</c>.</summary>
    public string Where => $"line {LineNumber} (img_id {ImageId})";
}
