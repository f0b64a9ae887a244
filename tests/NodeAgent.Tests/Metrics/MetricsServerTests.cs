using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Nginx;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Vrrp.VrrpState;

namespace NginxHa.NodeAgent.Tests.Metrics;

/// <summary>The real HTTP endpoint (Kestrel on 127.0.0.1, a port the kernel picks) with OpenTelemetry's exporter.</summary>
public sealed partial class MetricsServerTests : IAsyncLifetime
{
    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));
    readonly AgentMetrics _metrics = new($"NginxHa.NodeAgent.Tests.{Guid.NewGuid():N}");
    readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    Readiness _readiness = new(false, "no config applied yet");
    MetricsServer? _server;

    public async Task InitializeAsync() =>
        _server = await MetricsServer.StartAsync(new IPEndPoint(IPAddress.Loopback, 0), _metrics, () => _readiness, "lb1", CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _server!.DisposeAsync();
        _metrics.Dispose();
        _http.Dispose();
    }

    Uri Url(string path) => new($"http://{_server!.EndPoint}{path}");

    async Task<string> Scrape()
    {
        using var response = await _http.GetAsync(Url("/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    static double Sample(string text, string name, params (string Label, string Value)[] labels)
    {
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(name + "{", StringComparison.Ordinal)) continue;
            if (labels.All(l => line.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal)))
                return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new Xunit.Sdk.XunitException($"no sample {name} with {string.Join(",", labels)} in:\n{text}");
    }

    VrrpInstanceMetrics Instance(string name, byte vrid)
    {
        var instance = new VrrpInstanceMetrics(name, "eth0", vrid, VrrpVersion.V3, 100, TimeSpan.FromMilliseconds(100), _time);
        _metrics.Register(instance);
        return instance;
    }

    [Fact]
    public async Task Scrape_shows_state_as_a_value_and_counters_with_bounded_labels()
    {
        var edge = Instance("edge", 51);
        edge.StateChanged(Initialize, Backup, "startup");
        edge.StateChanged(Backup, Master, "master down timer expired");
        edge.AdvertSent(100);
        edge.AdvertSent(100);
        edge.AdvertDropped(VrrpDropReason.AuthenticationFailed, IPAddress.Parse("198.18.0.3"),
            new VrrpAdvertisement(VrrpVersion.V2, 51, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.100")]));
        edge.AdvertDropped(VrrpDropReason.BadChecksum, IPAddress.Parse("198.18.0.3"), null);
        edge.AddressesBound(1);
        edge.Announced(5);
        _time.Advance(TimeSpan.FromSeconds(7));
        edge.AdvertAccepted(IPAddress.Parse("198.18.0.2"), 90, Master, Master); // heard just now: a live peer

        var text = await Scrape();
        (string, string)[] labels = [("vrrp_instance", "edge"), ("vrid", "51"), ("interface", "eth0")];
        Assert.Equal(2, Sample(text, "nginx_ha_vrrp_state", labels));
        Assert.Equal(100, Sample(text, "nginx_ha_vrrp_priority", labels));
        Assert.Equal(7, Sample(text, "nginx_ha_vrrp_last_transition_age_seconds", labels));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_transitions_total", [.. labels, ("from", "backup"), ("to", "master"), ("reason", "master_down")]));
        Assert.Equal(0, Sample(text, "nginx_ha_vrrp_transitions_total", [.. labels, ("from", "master"), ("to", "backup"), ("reason", "higher_priority")]));
        Assert.Equal(2, Sample(text, "nginx_ha_vrrp_adverts_sent_total", labels));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_adverts_received_total", labels));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_split_brain_seen_total", labels));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_auth_failures_total", [.. labels, ("reason", "password")]));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_vrid_conflicts_total", [.. labels, ("kind", "auth")]));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_invalid_packets_total", [.. labels, ("reason", "bad_checksum")]));
        Assert.DoesNotContain("reason=\"authentication_failed\"", text);
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_vips_bound", labels));
        Assert.Equal(5, Sample(text, "nginx_ha_vrrp_gratuitous_announcements_total", labels));
        Assert.Equal(90, Sample(text, "nginx_ha_vrrp_peer_priority", [.. labels, ("peer", "198.18.0.2")]));
        Assert.Equal(1, Sample(text, "nginx_ha_vrrp_peers", labels));
        // The state is a value, never a label; no stranger's address appears (198.18.0.3 failed authentication).
        Assert.DoesNotContain("state=", text);
        Assert.DoesNotContain("198.18.0.3", text);
    }

    [Fact]
    public async Task Nginx_metrics_appear_once_nginx_is_supervised()
    {
        Assert.DoesNotContain("nginx_ha_nginx_up", await Scrape());
        var fake = new FakeNginx { Health = NginxHealth.Healthy, Starts = 3 };
        _metrics.Nginx.Attach(fake.Health2, () => fake.Starts);
        _metrics.Nginx.Applied("events {}\n", new ConfigApplyResult(ConfigApplyOutcome.Reloaded));
        _metrics.Nginx.Applied("bad", new ConfigApplyResult(ConfigApplyOutcome.Rejected, "nginx -t failed"));
        _metrics.Nginx.Reject(ConfigRejectionStage.Manifest);

        var text = await Scrape();
        Assert.Equal(1, Sample(text, "nginx_ha_nginx_up"));
        Assert.Equal(2, Sample(text, "nginx_ha_nginx_restarts_total"));
        Assert.Equal(1, Sample(text, "nginx_ha_nginx_reloads_total", ("result", "reloaded")));
        Assert.Equal(1, Sample(text, "nginx_ha_nginx_reloads_total", ("result", "rejected")));
        Assert.Equal(1, Sample(text, "nginx_ha_nginx_config_info", ("hash", NginxHa.NodeAgent.Nginx.NginxConfigHash.Of("events {}\n"))));
        Assert.Equal(1, Sample(text, "nginx_ha_config_rejected_total", ("stage", "nginx_test")));
        Assert.Equal(1, Sample(text, "nginx_ha_config_rejected_total", ("stage", "manifest")));

        fake.Health = NginxHealth.Down;
        Assert.Equal(0, Sample(await Scrape(), "nginx_ha_nginx_up"));
    }

    sealed class FakeNginx
    {
        public NginxHealth Health;
        public long Starts;
        public NginxHealth Health2() => Health;
    }

    [Fact]
    public async Task Healthz_answers_and_readyz_follows_readiness()
    {
        using (var health = await _http.GetAsync(Url("/healthz")))
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using (var notReady = await _http.GetAsync(Url("/readyz")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            Assert.Contains("no config applied yet", await notReady.Content.ReadAsStringAsync());
        }
        _readiness = new Readiness(true, "");
        using (var ready = await _http.GetAsync(Url("/readyz")))
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact]
    public void Readiness_waits_for_config_and_every_instance_to_start()
    {
        Assert.False(Readiness.Of(_metrics, configApplied: true).Ready); // no instance yet
        var a = Instance("a", 1);
        var b = Instance("b", 2);
        Assert.False(Readiness.Of(_metrics, configApplied: false).Ready);
        a.StateChanged(Initialize, Backup, "startup");
        var waiting = Readiness.Of(_metrics, configApplied: true);
        Assert.False(waiting.Ready);
        Assert.Contains("b", waiting.Reason);
        b.StateChanged(Initialize, Fault, "startup while faulted");
        Assert.True(Readiness.Of(_metrics, configApplied: true).Ready);
    }

    [Fact]
    public async Task Status_lists_instances_with_state_and_master()
    {
        var a = Instance("edge-a", 51);
        a.StateChanged(Initialize, Backup, "startup");
        a.AdvertAccepted(IPAddress.Parse("198.18.0.2"), 150, Backup, Backup);
        var b = Instance("edge-b", 52);
        b.StateChanged(Initialize, Backup, "startup");
        b.StateChanged(Backup, Master, "master down timer expired");

        using var doc = JsonDocument.Parse(await _http.GetStringAsync(Url("/status")));
        Assert.Equal("lb1", doc.RootElement.GetProperty("node").GetString());
        var instances = doc.RootElement.GetProperty("instances").EnumerateArray().ToArray();
        Assert.Equal(["edge-a", "edge-b"], instances.Select(i => i.GetProperty("name").GetString()));
        Assert.Equal("backup", instances[0].GetProperty("state").GetString());
        Assert.Equal("198.18.0.2", instances[0].GetProperty("master").GetString());
        Assert.Equal("master", instances[1].GetProperty("state").GetString());
        Assert.Equal("self", instances[1].GetProperty("master").GetString());
    }

    [Fact]
    public async Task Every_exposed_metric_is_documented_and_every_documented_metric_is_exposed()
    {
        var edge = Instance("edge", 51);
        edge.AdvertAccepted(IPAddress.Parse("198.18.0.2"), 90, Backup, Backup);
        _metrics.Nginx.Attach(() => NginxHealth.Healthy, () => 1);
        _metrics.Nginx.Applied("events {}\n", new ConfigApplyResult(ConfigApplyOutcome.Reloaded));
        var exposed = MetricNames().Matches(await Scrape()).Select(m => m.Groups[1].Value).Where(n => n.StartsWith("nginx_ha_")).ToHashSet();

        var documented = AgentMetricsDocumentation.Names();
        Assert.Equal(documented.OrderBy(n => n), exposed.OrderBy(n => n));
    }

    [Fact]
    public void Every_instrument_has_a_series_limit()
    {
        var names = new List<string>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, _) => { if (instrument.Meter.Name == _metrics.Name) lock (names) names.Add(instrument.Name); },
        };
        listener.Start();

        Assert.Equal(19, names.Count);
        Assert.All(names, n => Assert.True(AgentMetrics.SeriesLimits.ContainsKey(n), $"{n} has no series limit"));
    }

    [Fact]
    public async Task A_full_interface_of_instances_fits_the_limits_and_the_excess_past_one_is_reported_as_overflow()
    {
        for (int i = 0; i < 255; i++) Instance($"vip-{i}", (byte)(i + 1));
        var full = await Scrape();
        Assert.DoesNotContain("otel_metric_overflow", full);
        Assert.Equal(255, full.Split('\n').Count(l => l.StartsWith("nginx_ha_vrrp_state{", StringComparison.Ordinal)));

        for (int i = 255; i < 600; i++) Instance($"vip-{i}", (byte)(i % 255 + 1));
        var past = await Scrape();
        Assert.Contains(past.Split('\n'), l => l.StartsWith("nginx_ha_vrrp_state{", StringComparison.Ordinal) && l.Contains("otel_metric_overflow=\"true\""));
    }

    [GeneratedRegex(@"^# TYPE (\S+) ", RegexOptions.Multiline)]
    private static partial Regex MetricNames();
}

/// <summary>The agent's metric names as docs/metrics.md lists them (first column of its agent tables).</summary>
public static partial class AgentMetricsDocumentation
{
    public static string Path => System.IO.Path.Combine(RepositoryRoot(), "docs", "metrics.md");

    public static HashSet<string> Names()
    {
        var text = File.ReadAllText(Path);
        var agent = text[..text.IndexOf("## Operator", StringComparison.Ordinal)];
        return Row().Matches(agent).Select(m => m.Groups[1].Value).ToHashSet();
    }

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "NginxHaOperator.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("NginxHaOperator.sln not found above the test binaries");
    }

    [GeneratedRegex(@"^\| `(nginx_ha_[a-z_]+)` \|", RegexOptions.Multiline)]
    private static partial Regex Row();
}
