using System.Text;

namespace NginxHa.Core.Nginx;

/// <summary>
/// Writes nginx.conf text: one directive per line, 4-space indentation, "\n" line ends.
/// Arguments must already be safe tokens (see <see cref="NginxSyntax.Literal"/>, <see cref="NginxSyntax.Template"/>).
/// </summary>
internal sealed class NginxConfigWriter
{
    private const string Indentation = "    ";
    private readonly StringBuilder text = new();
    private int depth;

    public void Directive(string name, params string[] arguments)
    {
        Indent();
        text.Append(name);
        foreach (var argument in arguments) text.Append(' ').Append(argument);
        text.Append(";\n");
    }

    public void Block(string name, string[] arguments, Action body)
    {
        Indent();
        text.Append(name);
        foreach (var argument in arguments) text.Append(' ').Append(argument);
        text.Append(" {\n");
        depth++;
        body();
        depth--;
        Indent();
        text.Append("}\n");
    }

    public void Block(string name, Action body) => Block(name, [], body);

    /// <summary>A comment written by the renderer itself, never from manifest text.</summary>
    public void Comment(string comment)
    {
        Indent();
        text.Append("# ").Append(comment).Append('\n');
    }

    public void BlankLine() => text.Append('\n');

    public override string ToString() => text.ToString();

    private void Indent()
    {
        for (var level = 0; level < depth; level++) text.Append(Indentation);
    }
}
