using System.Text.RegularExpressions;
using NginxHa.Core.Text;

namespace NginxHa.Core.Resources.Validation;

/// <summary>Shared field checks. Each returns null when valid, else a reason completing "&lt;value&gt; ...".</summary>
public static partial class FieldRules
{
    /// <summary>
    /// Renders a string value for a message: quoted; backslash, quote, control and bidi characters escaped (so a value
    /// can neither break the line nor hide text); cut after <see cref="SafeText.MaxValueLength"/> characters.
    /// </summary>
    public static string Quote(string value)
    {
        var shown = value.Length > SafeText.MaxValueLength ? value[..SafeText.MaxValueLength] : value;
        var escaped = SafeText.Escape(shown.Replace("\\", "\\\\").Replace("\"", "\\\""), int.MaxValue);
        return shown.Length < value.Length ? $"\"{escaped}\"... ({value.Length} characters)" : $"\"{escaped}\"";
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Rfc1123Subdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex Rfc1123Label();

    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex QualifiedNamePart();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex SecretKey();

    public static string? ObjectName(string name) =>
        name.Length > 253 ? "is longer than 253 characters"
        : Rfc1123Subdomain().IsMatch(name) ? null
        : "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', starting and ending alphanumeric)";

    public static string? NamespaceName(string name) =>
        name.Length > 63 ? "is longer than 63 characters"
        : Rfc1123Label().IsMatch(name) ? null
        : "must be a lowercase RFC 1123 label (a-z, 0-9 and '-', starting and ending alphanumeric)";

    public static string? LabelKey(string key)
    {
        var slash = key.LastIndexOf('/');
        var name = slash < 0 ? key : key[(slash + 1)..];
        if (slash >= 0 && ObjectName(key[..slash]) is not null)
            return "has a prefix that is not a DNS subdomain";
        if (name.Length is 0 or > 63 || !QualifiedNamePart().IsMatch(name))
            return "is not a valid label key (at most 63 of A-Z, a-z, 0-9, '-', '_', '.', alphanumeric at both ends, optional DNS prefix and '/')";
        return null;
    }

    public static string? LabelValue(string value) =>
        value.Length == 0 || (value.Length <= 63 && QualifiedNamePart().IsMatch(value))
            ? null
            : "is not a valid label value (at most 63 of A-Z, a-z, 0-9, '-', '_', '.', alphanumeric at both ends)";

    /// <summary>Linux IFNAMSIZ is 16 including the terminating NUL.</summary>
    public static string? InterfaceName(string name) =>
        name.Length is 0 or > 15 || name is "." or ".." || name.Any(c => c == '/' || c == ':' || char.IsWhiteSpace(c) || char.IsControl(c))
            ? "is not a valid interface name (1-15 characters, no '/', ':' or whitespace)"
            : null;

    public static string? SecretKeyName(string key) =>
        key.Length <= 253 && SecretKey().IsMatch(key) ? null : "is not a valid Secret key (A-Z, a-z, 0-9, '-', '_', '.')";

    public static string? AbsolutePath(string path) =>
        path.StartsWith('/') && !path.Contains('\0') ? null : "must be an absolute file path";

    public static void CheckLabels(ICollection<(string, string)> problems, string path, IReadOnlyDictionary<string, string> labels)
    {
        foreach (var (key, value) in labels)
        {
            if (LabelKey(key) is { } keyReason) problems.Add((path, $"key {Quote(key)} {keyReason}"));
            if (LabelValue(value) is { } valueReason) problems.Add(($"{path}[{Quote(key)}]", $"{Quote(value)} {valueReason}"));
        }
    }
}
