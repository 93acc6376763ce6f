using System.Text;

namespace MLNet.FlatDebias.Transforms;

/// <summary>The comma-separated format of <c>metadata.csv</c> (RFC 4180: double quotes around fields that need them).</summary>
internal static class CsvLine
{
    /// <summary>The fields of one line; quoted fields may hold commas and doubled quotes.</summary>
    /// <exception cref="FormatException">A quote is not closed.</exception>
    public static List<string> Split(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        if (quoted) throw new FormatException("a quoted field is not closed");
        fields.Add(field.ToString().TrimEnd('\r'));
        return fields;
    }

    /// <summary>One line from fields, quoting those that hold a comma, a quote or a line break.</summary>
    public static string Join(IEnumerable<string> fields)
        => string.Join(',', fields.Select(f => f.AsSpan().IndexOfAny(",\"\r\n") < 0 ? f : $"\"{f.Replace("\"", "\"\"", StringComparison.Ordinal)}\""));
}
