using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.StandIn;

/// <summary>
/// Label and field selectors with the real server's syntax: labels <c>k</c>, <c>!k</c>, <c>k=v</c>, <c>k==v</c>,
/// <c>k!=v</c>, <c>k in (a,b)</c>, <c>k notin (a,b)</c>; fields <c>path=v</c>, <c>path==v</c>, <c>path!=v</c> on
/// metadata.name, metadata.namespace and the kind's extra field labels.
/// </summary>
public sealed class Selector
{
    readonly List<Func<JsonObject, bool>> _requirements = [];

    public static readonly Selector Everything = new();

    public bool Matches(JsonObject obj) => _requirements.All(r => r(obj));

    public static Selector Labels(string? text)
    {
        var selector = new Selector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        foreach (var raw in SplitTopLevel(text))
        {
            var part = raw.Trim();
            if (part.Length == 0) throw ApiError.BadRequest($"unable to parse requirement: empty requirement in \"{text}\"");
            selector._requirements.Add(ParseLabelRequirement(part, text));
        }
        return selector;
    }

    public static Selector Fields(string? text, ResourceKind kind)
    {
        var selector = new Selector();
        if (string.IsNullOrWhiteSpace(text)) return selector;
        foreach (var raw in text.Split(','))
        {
            var part = raw.Trim();
            var (op, at) = FindOperator(part);
            if (op is null) throw ApiError.BadRequest($"invalid selector: '{text}'; can't understand '{part}'");
            var field = part[..at].Trim();
            var value = part[(at + op.Length)..].Trim();
            if (field is not ("metadata.name" or "metadata.namespace") && !kind.ExtraFieldLabels.Contains(field))
                throw ApiError.BadRequest($"field label not supported: {field}");
            var negate = op == "!=";
            selector._requirements.Add(obj => (FieldValue(obj, field) == value) != negate);
        }
        return selector;
    }

    static (string? Op, int At) FindOperator(string part)
    {
        var neq = part.IndexOf("!=", StringComparison.Ordinal);
        if (neq > 0) return ("!=", neq);
        var eqeq = part.IndexOf("==", StringComparison.Ordinal);
        if (eqeq > 0) return ("==", eqeq);
        var eq = part.IndexOf('=');
        return eq > 0 ? ("=", eq) : (null, -1);
    }

    static string FieldValue(JsonObject obj, string path)
    {
        JsonNode? node = obj;
        foreach (var segment in path.Split('.')) node = node is JsonObject o ? o[segment] : null;
        return node switch
        {
            null => "",
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonValue v when v.TryGetValue<bool>(out var b) => b ? "true" : "false",
            _ => node.ToJsonString(),
        };
    }

    static Func<JsonObject, bool> ParseLabelRequirement(string part, string whole)
    {
        static string? Label(JsonObject obj, string key) =>
            obj["metadata"]?["labels"]?[key]?.GetValue<string>();

        var words = part.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length >= 2 && words[1] is "in" or "notin" && words.Length == 3)
        {
            var key = ValidKey(words[0], whole);
            var set = words[2].Trim();
            if (!set.StartsWith('(') || !set.EndsWith(')'))
                throw ApiError.BadRequest($"unable to parse requirement: found '{set}', expected: '('");
            var values = set[1..^1].Split(',', StringSplitOptions.TrimEntries).ToHashSet();
            return words[1] == "in"
                ? obj => Label(obj, key) is { } v && values.Contains(v)
                : obj => Label(obj, key) is not { } v || !values.Contains(v);
        }
        if (part.StartsWith('!'))
        {
            var key = ValidKey(part[1..].Trim(), whole);
            return obj => Label(obj, key) is null;
        }
        var (op, at) = FindOperator(part);
        if (op is null)
        {
            var key = ValidKey(part, whole);
            return obj => Label(obj, key) is not null;
        }
        var k = ValidKey(part[..at].Trim(), whole);
        var value = part[(at + op.Length)..].Trim();
        return op == "!="
            ? obj => Label(obj, k) != value
            : obj => Label(obj, k) == value;
    }

    static string ValidKey(string key, string whole)
    {
        if (key.Length == 0 || key.Length > 317 || key.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/')))
            throw ApiError.BadRequest($"unable to parse requirement: invalid label key \"{key}\" in selector \"{whole}\"");
        return key;
    }

    static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '(') depth++;
            else if (text[i] == ')') depth--;
            else if (text[i] == ',' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }
}
