using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace NginxHa.NodeAgent.Cli;

/// <summary>
/// <c>nginx-ha-agent status [--metrics-address ADDR:PORT]</c>: asks the running agent (its /status endpoint) and prints
/// a table of the node's VRRP instances, their states and masters, and nginx.
/// </summary>
public static class StatusCommand
{
    public const string Usage = "usage: nginx-ha-agent status [--metrics-address ADDR:PORT] (default 127.0.0.1:9464, the run command's)";

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        IPEndPoint address = ObservabilityArguments.DefaultMetricsAddress;
        try
        {
            for (int i = 0; i < args.Count; i++)
            {
                if (args[i] != "--metrics-address") throw new UsageException($"{args[i]}: unknown argument");
                if (i + 1 >= args.Count) throw new UsageException("--metrics-address: a value is required");
                address = ObservabilityArguments.ParseMetricsAddress(args[i], args[++i])
                          ?? throw new UsageException("--metrics-address: the agent's address is needed here, not none");
            }
        }
        catch (UsageException ex)
        {
            error.WriteLine($"nginx-ha-agent: {ex.Message}");
            return 2;
        }

        string json;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            json = await http.GetStringAsync(new Uri($"http://{address}/status"));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            error.WriteLine($"nginx-ha-agent: no agent answers on http://{address}/status ({ex.Message}); " +
                            "is `nginx-ha-agent run` running, and with which --metrics-address?");
            return 1;
        }
        try
        {
            output.Write(Render(json));
            return 0;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            error.WriteLine($"nginx-ha-agent: http://{address}/status did not answer with the agent's status: {ex.Message}");
            return 1;
        }
    }

    /// <summary>The table for a /status document. Pure.</summary>
    public static string Render(string statusJson)
    {
        using var doc = JsonDocument.Parse(statusJson);
        var root = doc.RootElement;
        var rows = new List<string[]> { new[] { "INSTANCE", "VRID", "INTERFACE", "STATE", "PRIORITY", "MASTER", "VIPS BOUND", "SINCE" } };
        foreach (var i in root.GetProperty("instances").EnumerateArray())
        {
            rows.Add(
            [
                i.GetProperty("name").GetString() ?? "",
                i.GetProperty("vrid").GetInt32().ToString(CultureInfo.InvariantCulture),
                i.GetProperty("interface").GetString() ?? "",
                (i.GetProperty("state").GetString() ?? "").ToUpperInvariant(),
                i.GetProperty("priority").GetInt32().ToString(CultureInfo.InvariantCulture),
                i.GetProperty("master").GetString() switch { "self" => "this node", "" or null => "-", var m => m },
                i.GetProperty("vipsBound").GetInt32().ToString(CultureInfo.InvariantCulture),
                Since(i.GetProperty("secondsSinceTransition").GetDouble()),
            ]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"node {root.GetProperty("node").GetString()}\n");
        foreach (var row in rows)
            text.Append(string.Join("  ", row.Select((cell, c) => cell.PadRight(widths[c]))).TrimEnd()).Append('\n');
        if (rows.Count == 1) text.Append("(no VRRP instance running)\n");
        if (root.TryGetProperty("nginx", out var nginx))
            text.Append(CultureInfo.InvariantCulture,
                $"nginx: {nginx.GetProperty("health").GetString()}, restarts {nginx.GetProperty("restarts").GetInt64()}, " +
                $"config {(nginx.GetProperty("configHash").GetString() is { Length: > 0 } h ? h : "none applied")}\n");
        return text.ToString();
    }

    static string Since(double seconds) => seconds switch
    {
        < 120 => $"{seconds.ToString("0", CultureInfo.InvariantCulture)}s",
        < 7200 => $"{(seconds / 60).ToString("0", CultureInfo.InvariantCulture)}m",
        < 172800 => $"{(seconds / 3600).ToString("0", CultureInfo.InvariantCulture)}h",
        _ => $"{(seconds / 86400).ToString("0", CultureInfo.InvariantCulture)}d",
    };
}
