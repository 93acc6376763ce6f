using System.Text;

namespace MLNet.FlatDebias.Examples;

/// <summary>A Markdown table with padded columns: readable in a terminal and pasteable into a README.</summary>
public static class TextTable
{
    /// <summary>Renders the table.</summary>
    /// <param name="headers">Column headers.</param>
    /// <param name="rows">Cells, one array per row, as many as headers.</param>
    /// <param name="rightAligned">Per column, whether it is right-aligned (numbers); null: all but the first.</param>
    /// <returns>The lines, ending in a newline.</returns>
    public static string Render(IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows, IReadOnlyList<bool>? rightAligned = null)
    {
        ArgumentNullException.ThrowIfNull(headers);
        ArgumentNullException.ThrowIfNull(rows);
        var right = rightAligned ?? [.. headers.Select((_, i) => i > 0)];
        var widths = headers.Select((h, c) => Math.Max(3, rows.Select(r => r[c].Length).Append(h.Length).Max())).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells)
        {
            text.Append('|');
            for (int c = 0; c < cells.Count; c++)
                text.Append(' ').Append(right[c] ? cells[c].PadLeft(widths[c]) : cells[c].PadRight(widths[c])).Append(" |");
            text.AppendLine();
        }
        Line(headers);
        text.Append('|');
        for (int c = 0; c < headers.Count; c++)
            text.Append(right[c] ? new string('-', widths[c] + 1) + ":|" : ":" + new string('-', widths[c] + 1) + "|");
        text.AppendLine();
        foreach (var row in rows) Line(row);
        return text.ToString();
    }
}
