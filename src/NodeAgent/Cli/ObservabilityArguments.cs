using System.Globalization;
using System.Net;

namespace NginxHa.NodeAgent.Cli;

/// <summary>How the agent writes its log lines.</summary>
public enum LogFormat
{
    /// <summary>One human line per event, with a UTC timestamp.</summary>
    Text,
    /// <summary>One JSON object per line: time, msg, and instance, vrid, vip, from, to, reason where they apply.</summary>
    Json,
}

/// <summary>The options every long-running command shares: where metrics are served and how logs are written.</summary>
public static class ObservabilityArguments
{
    public const string Usage = "[--metrics-address ADDR:PORT|none] [--log-format text|json]";

    /// <summary>"127.0.0.1:9464", "[::1]:9464", or "none" (no server).</summary>
    public static IPEndPoint? ParseMetricsAddress(string name, string text)
    {
        if (text is "none" or "off") return null;
        if (!IPEndPoint.TryParse(text, out var endpoint) || endpoint.Port is < 1 or > 65535 ||
            !text.Contains(':', StringComparison.Ordinal) || text.EndsWith(']'))
            throw new UsageException($"{name}: \"{text}\" is not ADDRESS:PORT (like 127.0.0.1:9464 or [::1]:9464) or none");
        return endpoint;
    }

    public static LogFormat ParseLogFormat(string name, string text) => text switch
    {
        "text" => LogFormat.Text,
        "json" => LogFormat.Json,
        _ => throw new UsageException($"{name}: \"{text}\" must be text or json"),
    };

    /// <summary>The run command's default: loopback, so `nginx-ha-agent status` finds it.</summary>
    public static readonly IPEndPoint DefaultMetricsAddress = new(IPAddress.Loopback, 9464);

    public static string Format(IPEndPoint endpoint) => endpoint.ToString();

    internal static string Invariant(int n) => n.ToString(CultureInfo.InvariantCulture);
}
