using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using NginxHa.NodeAgent.Vrrp;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text, OpenTelemetry's exporter), <c>/healthz</c> (the process answers),
/// <c>/readyz</c> (config applied, every instance running) and <c>/status</c> (JSON read by `nginx-ha-agent status`).
/// Kestrel alone, no routing, no logging providers: the smallest ASP.NET Core the exporter runs in (docs/benchmarks.md).
/// </summary>
public sealed class MetricsServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly MeterProvider _provider;

    MetricsServer(WebApplication app, MeterProvider provider)
    {
        _app = app;
        _provider = provider;
    }

    /// <summary>Where the server listens (the port resolved when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public static async Task<MetricsServer> StartAsync(IPEndPoint listen, AgentMetrics metrics, Func<Readiness> readiness,
        string node, CancellationToken ct)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Listen(listen);
            o.AddServerHeader = false;
            o.Limits.MaxConcurrentConnections = 16;
        });
        var provider = Sdk.CreateMeterProviderBuilder().ConfigureResource(r => r.AddService("nginx-ha-agent"))
            .AddMeter(metrics.Name)
            .AddView(instrument => instrument.Meter.Name == metrics.Name && AgentMetrics.SeriesLimits.TryGetValue(instrument.Name, out var limit)
                ? new MetricStreamConfiguration { CardinalityLimit = limit }
                : null)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0).Build();
        builder.Services.AddSingleton(provider);
        // The host's default console lifetime registers .NET handlers for SIGTERM/SIGINT, which would replace the
        // agent's own (Platform/ProcessSignals: the speaker hands over straight from the signal). The agent stops this server.
        builder.Services.AddSingleton<IHostLifetime, AgentOwnedLifetime>();
        var app = builder.Build();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(provider, predicate: null, path: "/metrics", configureBranchedPipeline: null,
            optionsName: null);
        app.Run(context => context.Request.Path.Value switch
        {
            "/healthz" => Text(context, StatusCodes.Status200OK, "ok\n"),
            "/readyz" => readiness() is var r && r.Ready
                ? Text(context, StatusCodes.Status200OK, "ready\n")
                : Text(context, StatusCodes.Status503ServiceUnavailable, $"not ready: {readiness().Reason}\n"),
            "/status" => Status(context, metrics, node),
            _ => Text(context, StatusCodes.Status404NotFound, "not found: /metrics /healthz /readyz /status\n"),
        });
        await app.StartAsync(ct).ConfigureAwait(false);
        var server = new MetricsServer(app, provider);
        var address = app.Urls.FirstOrDefault();
        server.EndPoint = address is not null && Uri.TryCreate(address, UriKind.Absolute, out var uri)
            ? new IPEndPoint(listen.Address, uri.Port)
            : listen;
        return server;
    }

    static Task Text(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(body);
    }

    static async Task Status(HttpContext context, AgentMetrics metrics, string node)
    {
        context.Response.ContentType = "application/json";
        var buffer = new MemoryStream();
        await using (var json = new Utf8JsonWriter(buffer))
            AgentStatus.Write(json, node, metrics);
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _provider.Dispose();
    }
}

/// <summary>A host lifetime that waits for nothing and handles no signal: the agent decides when the server stops.</summary>
sealed class AgentOwnedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
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
