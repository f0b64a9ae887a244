using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace NginxHa.Core.Nginx;

/// <summary>
/// The character rules that keep manifest values from changing the structure of nginx.conf.
/// Every value is checked here before it is rendered, and every string is rendered quoted.
/// </summary>
public static partial class NginxSyntax
{
    /// <summary>
    /// An nginx quoted string. Inside quotes nginx treats ; { } # and spaces as text; only
    /// backslash and double quote need escaping. Control characters cannot be represented safely
    /// (nginx turns "\n" into a newline), so they are refused.
    /// </summary>
    public static string Quote(string value)
    {
        var builder = new StringBuilder(value.Length + 2);
        builder.Append('"');
        foreach (var character in value)
        {
            if (char.IsControl(character))
                throw new ArgumentException($"control character U+{(int)character:X4} cannot be written to nginx.conf", nameof(value));
            if (character is '\\' or '"') builder.Append('\\');
            builder.Append(character);
        }
        return builder.Append('"').ToString();
    }

    /// <summary>
    /// A literal argument: bare when it is a plain token, quoted otherwise. Refuses "$" because
    /// nginx would expand it as a variable even inside quotes.
    /// </summary>
    public static string Literal(string value)
    {
        if (value.Contains('$'))
            throw new ArgumentException($"literal {value} contains \"$\", which nginx would expand", nameof(value));
        return PlainTokenPattern().IsMatch(value) ? value : Quote(value);
    }

    /// <summary>A variable template (log_format, hash key), always quoted.</summary>
    public static string Template(string value)
    {
        if (!TryCheckVariableTemplate(value, out var reason))
            throw new ArgumentException($"template {value} {reason}", nameof(value));
        return Quote(value);
    }

    /// <summary>Printable and without "$": safe as a literal that nginx must not expand.</summary>
    public static bool IsLiteral(string value) => !value.Contains('$') && !HasControlCharacter(value);

    public static bool HasControlCharacter(string value) => value.Any(char.IsControl);

    /// <summary>A single nginx time value such as "60s", "500ms", "1h" or "30" (seconds).</summary>
    public static bool IsDuration(string value) => DurationPattern().IsMatch(value);

    /// <summary>An nginx size (ngx_parse_size): digits with an optional k or m suffix.</summary>
    public static bool IsSize(string value) => SizePattern().IsMatch(value);

    /// <summary>An nginx offset (ngx_parse_offset): digits with an optional k, m or g suffix.</summary>
    public static bool IsOffset(string value) => OffsetPattern().IsMatch(value);

    /// <summary>Bytes of a size or offset string already checked by <see cref="IsOffset"/>.</summary>
    public static long ParseSize(string value)
    {
        var multiplier = char.ToLowerInvariant(value[^1]) switch
        {
            'k' => 1024L,
            'm' => 1024L * 1024,
            'g' => 1024L * 1024 * 1024,
            _ => 1L,
        };
        var digits = multiplier == 1 ? value : value[..^1];
        return long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) * multiplier;
    }

    /// <summary>An RFC 1123 host name.</summary>
    public static bool IsHostName(string value) => value.Length <= 253 && HostNamePattern().IsMatch(value);

    /// <summary>A dotted-quad IPv4 or a textual IPv6 address (no shorthand like "1" for 0.0.0.1, no scope id).</summary>
    public static bool IsIpAddress(string value) =>
        IpCharsPattern().IsMatch(value) && IPAddress.TryParse(value, out var address)
        && (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 || address.ToString() == value);

    /// <summary>A server_name: a host name, "*.name", ".name", "name.*" or the catch-all "_". No regexes.</summary>
    public static bool IsServerName(string value)
    {
        if (value == "_") return true;
        var host = value;
        if (host.StartsWith("*.", StringComparison.Ordinal)) host = host[2..];
        else if (host.StartsWith('.')) host = host[1..];
        else if (host.EndsWith(".*", StringComparison.Ordinal)) host = host[..^2];
        return IsHostName(host);
    }

    /// <summary>A Kubernetes DNS-1123 subdomain (Secret and Service names).</summary>
    public static bool IsKubernetesName(string value) => value.Length <= 253 && KubernetesNamePattern().IsMatch(value);

    /// <summary>An HTTP header name restricted to letters, digits and "-".</summary>
    public static bool IsHeaderName(string value) => HeaderNamePattern().IsMatch(value);

    /// <summary>A file path of safe characters without "." or ".." segments.</summary>
    public static bool IsSafeFilePath(string value) =>
        FilePathPattern().IsMatch(value) && value.Split('/').All(segment => segment is not ("." or ".."));

    /// <summary>A URI path for an exact-match location: starts with "/", safe characters, not "/" alone.</summary>
    public static bool IsLocationPath(string value) =>
        value.Length > 1 && LocationPathPattern().IsMatch(value) && value.Split('/').All(segment => segment is not ("." or ".."));

    public static bool IsMimeType(string value) => value == "*" || MimeTypePattern().IsMatch(value);

    /// <summary>
    /// A template where "$" only starts a variable reference ($name or ${name}), for log_format
    /// and hash keys. The literal parts must be printable.
    /// </summary>
    public static bool TryCheckVariableTemplate(string value, out string reason)
    {
        if (value.Length == 0) { reason = "must not be empty"; return false; }
        for (var index = 0; index < value.Length; index++)
        {
            var character = value[index];
            if (char.IsControl(character))
            {
                reason = $"contains control character U+{(int)character:X4} at position {index}";
                return false;
            }
            if (character != '$') continue;
            var match = VariableReferencePattern().Match(value, index);
            if (!match.Success || match.Index != index)
            {
                reason = $"\"$\" at position {index} does not start a variable reference like $name or ${{name}}";
                return false;
            }
            index += match.Length - 1;
        }
        reason = "";
        return true;
    }

    // Characters nginx's tokenizer never treats specially outside quotes.
    [GeneratedRegex(@"^[A-Za-z0-9._/:*=\[\]-]+\z")]
    private static partial Regex PlainTokenPattern();

    [GeneratedRegex(@"^[0-9]{1,9}(ms|s|m|h|d)?\z")]
    private static partial Regex DurationPattern();

    [GeneratedRegex(@"^[0-9]{1,12}[kKmM]?\z")]
    private static partial Regex SizePattern();

    [GeneratedRegex(@"^[0-9]{1,12}[kKmMgG]?\z")]
    private static partial Regex OffsetPattern();

    [GeneratedRegex(@"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\z")]
    private static partial Regex HostNamePattern();

    [GeneratedRegex(@"^[0-9A-Fa-f.:]+\z")]
    private static partial Regex IpCharsPattern();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\z")]
    private static partial Regex KubernetesNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,126})\z")]
    private static partial Regex HeaderNamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9._/+-]{1,1024}\z")]
    private static partial Regex FilePathPattern();

    [GeneratedRegex(@"^/[A-Za-z0-9._~/-]{1,255}\z")]
    private static partial Regex LocationPathPattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9!#&^_.+-]*/[a-z0-9][a-z0-9!#&^_.+-]*\z")]
    private static partial Regex MimeTypePattern();

    [GeneratedRegex(@"\$([A-Za-z_][A-Za-z0-9_]*|\{[A-Za-z_][A-Za-z0-9_]*\})")]
    private static partial Regex VariableReferencePattern();
}
