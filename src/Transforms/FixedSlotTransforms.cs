using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>
/// Slot-wise transforms with fixed parameters, made of ML.NET's own public transforms so that they save and load
/// with the model. ML.NET has no public constructor for a fixed slot dropper or a fixed affine map, so each is
/// obtained by fitting a public estimator on a tiny synthetic data set that yields exactly the wanted parameters:
/// <list type="bullet">
/// <item><see cref="CenterCrop"/>: <c>SelectFeaturesBasedOnCount(count: 1)</c> fitted on one row that is 1 inside the
/// crop and 0 outside keeps exactly the crop's slots (its fitted form is ML.NET's slot-dropping transformer, the
/// one behind the internal <c>DropSlots</c>).</item>
/// <item><see cref="PerChannelAffine"/>: <c>NormalizeMinMax(fixZero: false)</c> fitted on two rows, <c>mean</c> and
/// <c>mean + std</c> per slot, computes <c>(x − mean) / std</c> for every slot.</item>
/// </list>
/// </summary>
internal static class FixedSlotTransforms
{
    /// <summary>Only for building the synthetic data views; the estimators come from the caller's catalog.</summary>
    private static readonly MLContext Synthetic = new(seed: 0);

    /// <summary>A transformer that keeps the centred <paramref name="crop"/>×<paramref name="crop"/> window of each
    /// plane of a planar <c>[channels, size, size]</c> vector column.</summary>
    public static ITransformer CenterCrop(TransformsCatalog catalog, string outputColumnName, string inputColumnName, int channels, int size, int crop)
    {
        // torchvision's CenterCrop: top = int(round((size - crop) / 2.0)), Python rounding half to even.
        int offset = (int)Math.Round((size - crop) / 2.0, MidpointRounding.ToEven);
        var keep = new float[channels * size * size];
        for (int c = 0; c < channels; c++)
            for (int y = offset; y < offset + crop; y++)
                Array.Fill(keep, 1f, c * size * size + y * size + offset, crop);
        var type = new VectorDataViewType(NumberDataViewType.Single, channels, size, size);
        return catalog.FeatureSelection.SelectFeaturesBasedOnCount(outputColumnName, inputColumnName, count: 1)
            .Fit(OneColumn(inputColumnName, type, [keep]));
    }

    /// <summary>A transformer computing <c>(x − mean[c]) / std[c]</c> for each slot of a planar vector column whose
    /// channel c covers slots <c>[c·planeSize, (c + 1)·planeSize)</c>.</summary>
    public static ITransformer PerChannelAffine(TransformsCatalog catalog, string outputColumnName, string inputColumnName, VectorDataViewType type, float[] mean, float[] std)
    {
        int planeSize = type.Size / mean.Length;
        var low = new float[type.Size];
        var high = new float[type.Size];
        for (int c = 0; c < mean.Length; c++)
        {
            Array.Fill(low, mean[c], c * planeSize, planeSize);
            Array.Fill(high, mean[c] + std[c], c * planeSize, planeSize);
        }
        return catalog.NormalizeMinMax(outputColumnName, inputColumnName, fixZero: false)
            .Fit(OneColumn(inputColumnName, type, [low, high]));
    }

    private static IDataView OneColumn(string name, VectorDataViewType type, float[][] rows)
    {
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[0].ColumnName = name;
        schema[0].ColumnType = type;
        return Synthetic.Data.LoadFromEnumerable(rows.Select(r => new VectorRow { Values = r }), schema);
    }

    private sealed class VectorRow
    {
        public float[] Values { get; set; } = [];
    }
}
