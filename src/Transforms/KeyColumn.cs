using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Transforms;

/// <summary>Declares a <c>uint</c> field of a row class as a key column with named values.</summary>
/// <remarks>Such a field holds the 0-based index: <c>LoadFromEnumerable</c> stores index + 1 as the key value (0 is
/// ML.NET's missing key, and an index ≥ count also becomes 0).</remarks>
internal static class KeyColumn
{
    /// <summary>The annotation kind ML.NET reads key names from (<c>AnnotationUtils.Kinds.KeyValues</c>, internal there).</summary>
    public const string KeyValuesKind = "KeyValues";

    /// <summary>Makes <paramref name="name"/> a key column of <c>names.Count</c> values carrying <paramref name="names"/> as KeyValues.</summary>
    public static void Define(SchemaDefinition schema, string name, IReadOnlyList<string> names)
    {
        var column = schema[name];
        column.ColumnType = new KeyDataViewType(typeof(uint), names.Count);
        var values = new VBuffer<ReadOnlyMemory<char>>(names.Count, names.Select(n => n.AsMemory()).ToArray());
        column.AddAnnotation(KeyValuesKind, values, new VectorDataViewType(TextDataViewType.Instance, names.Count));
    }
}
