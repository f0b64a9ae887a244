using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Vrrp.VrrpState;

namespace NginxHa.NodeAgent.Tests.Metrics;

/// <summary>deploy/grafana/nginx-ha-dashboard.json: it parses, and every query names only metrics that exist.</summary>
public sealed partial class DashboardTests
{
    static string DashboardPath => Path.Combine(AgentMetricsDocumentation.RepositoryRoot(), "deploy", "grafana", "nginx-ha-dashboard.json");

    // Prometheus's own series the dashboard may read.
    static readonly HashSet<string> BuiltIn = ["ALERTS", "up"];

    static readonly HashSet<string> Keywords =
    [
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "inf", "nan",
    ];

    /// <summary>Every PromQL expression in the dashboard: panel targets, template variable queries, annotations.</summary>
    static List<string> Expressions()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var root = doc.RootElement;
        var expressions = new List<string>();
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
                expressions.Add(target.GetProperty("expr").GetString()!);
        foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
            if (variable.GetProperty("type").GetString() == "query")
                expressions.Add(Regex.Match(variable.GetProperty("query").GetProperty("query").GetString()!, @"^label_values\((.*),\s*\w+\)$").Groups[1].Value);
        foreach (var annotation in root.GetProperty("annotations").GetProperty("list").EnumerateArray())
            expressions.Add(annotation.GetProperty("expr").GetString()!);
        return expressions;
    }

    /// <summary>The metric names a PromQL expression selects: identifiers that are not functions, keywords or labels.</summary>
    public static IEnumerable<string> MetricNames(string promql)
    {
        var text = Strings().Replace(promql, "\"\"");
        text = Braces().Replace(text, " ");
        text = Ranges().Replace(text, " ");
        text = Grouping().Replace(text, " ");
        return Identifier().Matches(text).Where(m => !m.Groups[2].Success).Select(m => m.Groups[1].Value)
            .Where(name => !Keywords.Contains(name));
    }

    [Fact]
    public void Dashboard_parses_and_has_the_panels_an_on_call_engineer_needs()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(DashboardPath));
        var titles = doc.RootElement.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("title").GetString()!).ToList();
        Assert.Contains(titles, t => t.Contains("state", StringComparison.OrdinalIgnoreCase));
        Assert.Contains(titles, t => t.Contains("Takeovers", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("Adverts", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("reloads", StringComparison.Ordinal));
        Assert.Contains(titles, t => t.Contains("Alerts", StringComparison.Ordinal));
        Assert.Equal(doc.RootElement.GetProperty("panels").GetArrayLength(),
            doc.RootElement.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
    }

    [Fact]
    public async Task Every_query_names_only_metrics_the_agent_really_exposes_or_prometheus_provides()
    {
        var names = Expressions().SelectMany(MetricNames).ToHashSet();
        Assert.Contains("nginx_ha_vrrp_state", names);

        var documented = AgentMetricsDocumentation.Names();
        var exposed = await ExposedNames();
        var unknown = names.Where(n => !BuiltIn.Contains(n) && !(documented.Contains(n) && exposed.Contains(n))).ToList();
        Assert.True(unknown.Count == 0, $"not exposed by the agent or not in docs/metrics.md: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void The_name_extraction_sees_metrics_and_skips_functions_labels_and_keywords()
    {
        Assert.Equal(["nginx_ha_vrrp_state"],
            MetricNames("count by (vrrp_instance, vrid) (nginx_ha_vrrp_state{job=\"$job\", vrrp_instance=~\"a|b\"} == 2)"));
        Assert.Equal(["a_total", "b"], MetricNames("sum without (x) (rate(a_total[5m])) / on (y) group_left (z) b offset 5m"));
    }

    static async Task<HashSet<string>> ExposedNames()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));
        using var metrics = new AgentMetrics($"NginxHa.NodeAgent.Tests.{Guid.NewGuid():N}");
        var instance = new VrrpInstanceMetrics("edge", "eth0", 51, VrrpVersion.V3, 100, TimeSpan.FromMilliseconds(100), time);
        metrics.Register(instance);
        instance.StateChanged(Initialize, Backup, "startup");
        instance.AdvertAccepted(IPAddress.Parse("198.18.0.2"), 150, Backup, Backup);
        metrics.Nginx.Attach(() => NginxHealth.Healthy, () => 1);
        metrics.Nginx.Applied("events {}\n", new ConfigApplyResult(ConfigApplyOutcome.Reloaded));
        await using var server = await MetricsServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), metrics, () => new Readiness(true, ""), "lb1",
            CancellationToken.None);
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri($"http://{server.EndPoint}/metrics"));
        return TypeLines().Matches(text).Select(m => m.Groups[1].Value).ToHashSet();
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex Strings();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Braces();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"(?<![\w$.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"^# TYPE (\S+) ", RegexOptions.Multiline)]
    private static partial Regex TypeLines();
}
