using System.Text.RegularExpressions;

namespace NginxHa.NodeAgent.Nginx;

/// <summary>Extracts the message that matters from what nginx prints on stderr.</summary>
public static partial class NginxErrorOutput
{
    // Both shapes nginx uses on stderr: "nginx: [emerg] MSG" (before the error log is set up) and the
    // error-log shape "2026/11/23 20:07:33 [emerg] 12789#12789: MSG".
    [GeneratedRegex(@"\[(?<level>emerg|alert|crit|error)\]\s+(?:\d+#\d+:\s+)?(?:\*\d+\s+)?(?<message>.+)$")]
    private static partial Regex ErrorLine();

    /// <summary>
    /// An [emerg] line means nginx cannot go on; during a start it is worth failing at once rather than waiting out
    /// nginx's own retries (a busy port costs five bind() attempts 500 ms apart).
    /// </summary>
    public static bool IsEmergency(string line) => ErrorLine().Match(line) is { Success: true } match && match.Groups["level"].Value == "emerg";

    [GeneratedRegex(@"^bind\(\) to \S+ failed \(13: Permission denied\)$")]
    private static partial Regex ListenPermissionDenied();

    /// <summary>
    /// Sidecar mode: the agent's container may not bind the listeners' ports (no NET_BIND_SERVICE: the nginx container
    /// binds them). nginx -t parses and checks the whole config before it opens the listening sockets and stops at the
    /// first refused bind, so output whose only errors are "bind() to ADDRESS failed (13: Permission denied)" means the
    /// config passed every check nginx -t makes before binding.
    /// </summary>
    public static bool OnlyListenPermissionDenied(string? stderr)
    {
        if (string.IsNullOrWhiteSpace(stderr)) return false;
        var errors = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => ErrorLine().Match(line)).Where(m => m.Success).Select(m => m.Groups["message"].Value.Trim()).ToList();
        return errors.Count > 0 && errors.All(e => ListenPermissionDenied().IsMatch(e));
    }

    /// <summary>
    /// The first error-level line, without the "nginx:" prefix, timestamp and pid, e.g.
    /// <c>unknown directive "bogus" in /etc/nginx/nginx.conf:1</c>. Falls back to the first non-empty line
    /// that is not nginx's closing "test failed" summary, or null when the output is empty.
    /// </summary>
    public static string? FirstError(string? stderr)
    {
        if (string.IsNullOrWhiteSpace(stderr)) return null;
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var line in lines)
        {
            var match = ErrorLine().Match(line);
            if (match.Success) return match.Groups["message"].Value.Trim();
        }
        foreach (var line in lines)
        {
            if (!line.EndsWith("test failed", StringComparison.Ordinal) && !line.EndsWith("test is successful", StringComparison.Ordinal))
                return line.StartsWith("nginx: ", StringComparison.Ordinal) ? line["nginx: ".Length..] : line;
        }
        return lines.Length > 0 ? lines[0] : null;
    }
}
