using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace NginxHa.Operator.Crds;

/// <summary>
/// Writes a tree of ordered maps, lists and scalars as block YAML, deterministically. Strings that YAML 1.1 (which
/// kubectl's parser follows) would read as something else, such as Off, yes, 1.0 or null, are double-quoted.
/// </summary>
public static partial class YamlText
{
    public static string Write(object tree)
    {
        var builder = new StringBuilder();
        WriteValue(builder, tree, 0, inList: false);
        return builder.ToString();
    }

    static void WriteValue(StringBuilder builder, object? value, int indent, bool inList)
    {
        switch (value)
        {
            case IEnumerable<KeyValuePair<string, object?>> map:
                var first = true;
                foreach (var (key, item) in map)
                {
                    if (!(inList && first)) builder.Append(' ', indent);
                    first = false;
                    builder.Append(Scalar(key)).Append(':');
                    WriteChild(builder, item, indent);
                }
                if (first) builder.Append("{}\n");
                break;
            case System.Collections.IList list:
                if (list.Count == 0) { builder.Append("[]\n"); break; }
                var firstItem = true;
                foreach (var item in list)
                {
                    if (!(inList && firstItem)) builder.Append(' ', indent);
                    firstItem = false;
                    builder.Append("- ");
                    if (IsEmptyCollection(item) || !IsCollection(item)) builder.Append(Scalar(item)).Append('\n');
                    else WriteValue(builder, item, indent + 2, inList: true);
                }
                break;
            default:
                builder.Append(Scalar(value)).Append('\n');
                break;
        }
    }

    static void WriteChild(StringBuilder builder, object? item, int indent)
    {
        if (!IsCollection(item) || IsEmptyCollection(item))
        {
            builder.Append(' ').Append(Scalar(item)).Append('\n');
            return;
        }
        builder.Append('\n');
        // Sequences under a key are indented like kubectl writes them.
        WriteValue(builder, item, indent + 2, inList: false);
    }

    // Maps first: OrderedDictionary is an IList too.
    static bool IsCollection(object? value) => value is IEnumerable<KeyValuePair<string, object?>> or System.Collections.IList;

    static bool IsEmptyCollection(object? value) => value switch
    {
        IEnumerable<KeyValuePair<string, object?>> map => !map.Any(),
        System.Collections.IList list => list.Count == 0,
        _ => false,
    };

    static string Scalar(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        int or long => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        string s => PlainSafe(s) ? s : JsonSerializer.Serialize(s, QuotedStrings.Options),
        IEnumerable<KeyValuePair<string, object?>> => "{}",
        System.Collections.IList { Count: 0 } => "[]",
        _ => throw new ArgumentException($"cannot write {value.GetType()} as YAML"),
    };

    static bool PlainSafe(string s) =>
        PlainText().IsMatch(s) && !YamlOneOneSpecial().IsMatch(s) && !s.Contains(": ") && !s.Contains(" #") && !s.EndsWith(' ');

    [GeneratedRegex(@"^[A-Za-z_/][-A-Za-z0-9 _./()',+]*$")]
    private static partial Regex PlainText();

    [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL)$")]
    private static partial Regex YamlOneOneSpecial();

    static class QuotedStrings
    {
        // Escape only what JSON (and so YAML double quotes) must: keep quotes, <, >, & readable.
        public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    }
}
