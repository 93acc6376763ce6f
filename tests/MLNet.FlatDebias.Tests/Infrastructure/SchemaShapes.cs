using System.Reflection;
using Microsoft.ML;

namespace MLNet.FlatDebias.Tests.Infrastructure;

/// <summary>
/// The <see cref="SchemaShape"/> of a data view's schema, as ML.NET's own pipelines pass it to
/// <c>GetOutputSchema</c>. ML.NET makes <c>SchemaShape.Create</c> internal and offers no public equivalent, so
/// the tests (only the tests) reach it by reflection to call our estimators the way ML.NET does.
/// </summary>
internal static class SchemaShapes
{
    private static readonly MethodInfo Create = typeof(SchemaShape).GetMethod("Create", BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public,
        [typeof(DataViewSchema)]) ?? throw new InvalidOperationException("SchemaShape.Create(DataViewSchema) was not found.");

    public static SchemaShape Of(DataViewSchema schema) => (SchemaShape)Create.Invoke(null, [schema])!;
}
