using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using NginxHa.NodeAgent.Vrrp;
using NginxHa.Observability;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text, OpenTelemetry's exporter), <c>/healthz</c> (the process answers),
/// <c>/readyz</c> (config applied, every instance running) and <c>/status</c> (JSON read by `nginx-ha-agent status`),
/// on <see cref="MetricsHttpServer"/>: Kestrel without a host, so nothing replaces the agent's own SIGTERM handling
/// (Platform/ProcessSignals: the speaker hands over straight from the signal); the agent stops this server.
/// </summary>
public sealed class MetricsServer : IAsyncDisposable
{
    readonly MetricsHttpServer _server;

    MetricsServer(MetricsHttpServer server) => _server = server;

    /// <summary>Where the server listens (the port resolved when 0 was asked for).</summary>
    public IPEndPoint EndPoint => _server.EndPoint;

    public static async Task<MetricsServer> StartAsync(IPEndPoint listen, AgentMetrics metrics, Func<Readiness> readiness,
        string node, CancellationToken ct)
    {
        var provider = Sdk.CreateMeterProviderBuilder().ConfigureResource(r => r.AddService("nginx-ha-agent"))
            .AddMeter(metrics.Name)
            .AddView(instrument => instrument.Meter.Name == metrics.Name && AgentMetrics.SeriesLimits.TryGetValue(instrument.Name, out var limit)
                ? new MetricStreamConfiguration { CardinalityLimit = limit }
                : null)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0).Build();
        var server = await MetricsHttpServer.StartAsync(listen, provider, context => context.Request.Path.Value switch
        {
            "/healthz" => MetricsHttpServer.Text(context, StatusCodes.Status200OK, "ok\n"),
            "/readyz" => readiness() is var r && r.Ready
                ? MetricsHttpServer.Text(context, StatusCodes.Status200OK, "ready\n")
                : MetricsHttpServer.Text(context, StatusCodes.Status503ServiceUnavailable, $"not ready: {r.Reason}\n"),
            "/status" => Status(context, metrics, node),
            _ => MetricsHttpServer.Text(context, StatusCodes.Status404NotFound, "not found: /metrics /healthz /readyz /status\n"),
        }, ct).ConfigureAwait(false);
        return new MetricsServer(server);
    }

    static async Task Status(HttpContext context, AgentMetrics metrics, string node)
    {
        context.Response.ContentType = "application/json";
        var buffer = new MemoryStream();
        await using (var json = new Utf8JsonWriter(buffer))
            AgentStatus.Write(json, node, metrics);
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>Whether the agent is ready, and if not why.</summary>
public readonly record struct Readiness(bool Ready, string Reason)
{
    /// <summary>Ready once every instance has left Initialize (started) and, when nginx is supervised, a config was applied.</summary>
    public static Readiness Of(AgentMetrics metrics, bool configApplied)
    {
        if (!configApplied) return new(false, "no config applied yet");
        var instances = metrics.Instances;
        if (instances.Length == 0) return new(false, "no VRRP instance running");
        var starting = instances.Where(i => i.State == VrrpState.Initialize).Select(i => i.Name).ToArray();
        return starting.Length > 0 ? new(false, $"instances not started: {string.Join(", ", starting)}") : new(true, "");
    }
}

/// <summary>Starts the metrics server if an address is given; a failure to listen is logged and the agent runs on without it.</summary>
public static class MetricsEndpoint
{
    /// <summary>
    /// Starts the server off the caller's thread (Kestrel's start costs the JIT build a second or two, which must not delay
    /// VRRP); disposing the result stops it once started.
    /// </summary>
    public static BackgroundServer StartInBackground(IPEndPoint? address, AgentMetrics metrics, Func<Readiness> readiness, string node,
        Action<string> log) => new(Task.Run(() => TryStart(address, metrics, readiness, node, log)));

    public sealed class BackgroundServer(Task<MetricsServer?> starting) : IAsyncDisposable
    {
        public Task<MetricsServer?> Starting => starting;

        public async ValueTask DisposeAsync()
        {
            if (await starting.ConfigureAwait(false) is { } server) await server.DisposeAsync().ConfigureAwait(false);
        }
    }

    public static MetricsServer? TryStart(IPEndPoint? address, AgentMetrics metrics, Func<Readiness> readiness, string node, Action<string> log)
    {
        if (address is null) return null;
        try
        {
            var server = MetricsServer.StartAsync(address, metrics, readiness, node, CancellationToken.None).GetAwaiter().GetResult();
            log($"metrics: serving /metrics /healthz /readyz /status on http://{server.EndPoint}");
            return server;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
        {
            // Monitoring must never take down what serves: the VIPs and nginx go on without it.
            log($"metrics: cannot listen on {address}: {ex.Message}; running without the metrics endpoint");
            return null;
        }
    }
}
