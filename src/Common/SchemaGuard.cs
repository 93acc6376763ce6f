using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.FlatDebias.Common;

/// <summary>
/// Schema checks that throw with ML.NET's own wording (its <c>Contracts</c> helper is internal):
/// <c>Could not find {role} column '{name}'</c> and
/// <c>Schema mismatch for {role} column '{name}': expected {expected}, got {actual}</c>.
/// Both are <see cref="ArgumentOutOfRangeException"/>, as ML.NET's are.
/// </summary>
internal static class SchemaGuard
{
    /// <summary>The column named <paramref name="name"/>, or ML.NET's "Could not find" error.</summary>
    public static DataViewSchema.Column RequireColumn(DataViewSchema schema, string role, string? name)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException($"The {role} column name must be set.", nameof(name));
        var column = schema.GetColumnOrNull(name);
        if (column is null) throw Missing(role, name);
        return column.Value;
    }

    /// <summary>The column named <paramref name="name"/> of a schema shape, or ML.NET's "Could not find" error.</summary>
    public static SchemaShape.Column RequireColumn(SchemaShape schema, string role, string? name)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException($"The {role} column name must be set.", nameof(name));
        foreach (var column in schema)
            if (column.Name == name) return column;
        throw Missing(role, name);
    }

    /// <summary>ML.NET's "Could not find {role} column '{name}'" error.</summary>
    public static ArgumentOutOfRangeException Missing(string role, string name)
        => new("schema", $"Could not find {role} column '{name}'");

    /// <summary>ML.NET's "Schema mismatch" error.</summary>
    public static ArgumentOutOfRangeException Mismatch(string role, string name, string expected, string actual)
        => new("schema", $"Schema mismatch for {role} column '{name}': expected {expected}, got {actual}");

    /// <summary>A readable description of a column type, e.g. <c>Vector&lt;Single, 3, 224, 224&gt;</c> or <c>Key&lt;UInt32, 0-1&gt;</c>.</summary>
    public static string Describe(DataViewType type) => type switch
    {
        VectorDataViewType v when v.Dimensions.Length > 1 => $"Vector<{Describe(v.ItemType)}, {string.Join(", ", v.Dimensions)}>",
        VectorDataViewType v => v.Size > 0 ? $"Vector<{Describe(v.ItemType)}, {v.Size}>" : $"Vector<{Describe(v.ItemType)}> (variable size)",
        KeyDataViewType k => $"Key<{k.RawType.Name}, 0-{k.Count - 1}>",
        _ => type.RawType == typeof(ReadOnlyMemory<char>) ? "String" : type.RawType.Name,
    };
}
