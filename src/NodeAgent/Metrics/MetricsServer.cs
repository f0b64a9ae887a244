using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using NginxHa.NodeAgent.Vrrp;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text, OpenTelemetry's exporter), <c>/healthz</c> (the process answers),
/// <c>/readyz</c> (config applied, every instance running) and <c>/status</c> (JSON read by `nginx-ha-agent status`).
/// Kestrel hosted by hand: no WebApplication, host, configuration, logging or routing, only the server and one request
/// pipeline, which keeps ASP.NET Core's hosting code out of the NativeAOT binary (docs/benchmarks.md, "Agent cost").
/// Without a host nothing registers .NET's SIGTERM/SIGINT handlers either, which would replace the agent's own
/// (Platform/ProcessSignals: the speaker hands over straight from the signal); the agent stops this server.
/// </summary>
public sealed class MetricsServer : IAsyncDisposable
{
    readonly KestrelServer _server;
    readonly MeterProvider _provider;
    readonly ServiceProvider _services;

    MetricsServer(KestrelServer server, MeterProvider provider, ServiceProvider services)
    {
        _server = server;
        _provider = provider;
        _services = services;
    }

    /// <summary>Where the server listens (the port resolved when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public static async Task<MetricsServer> StartAsync(IPEndPoint listen, AgentMetrics metrics, Func<Readiness> readiness,
        string node, CancellationToken ct)
    {
        var provider = Sdk.CreateMeterProviderBuilder().ConfigureResource(r => r.AddService("nginx-ha-agent"))
            .AddMeter(metrics.Name)
            .AddView(instrument => instrument.Meter.Name == metrics.Name && AgentMetrics.SeriesLimits.TryGetValue(instrument.Name, out var limit)
                ? new MetricStreamConfiguration { CardinalityLimit = limit }
                : null)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0).Build();
        // The exporter's middleware is created through the application's services: an empty container does.
        var services = new ServiceCollection().BuildServiceProvider();
        var app = new ApplicationBuilder(services);
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

        var options = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = services };
        options.Limits.MaxConcurrentConnections = 16;
        options.Listen(listen);
        var server = new KestrelServer(Options.Create(options),
            new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance), NullLoggerFactory.Instance);
        try
        {
            await server.StartAsync(new Pipeline(app.Build()), ct).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            provider.Dispose();
            await services.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var started = new MetricsServer(server, provider, services);
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        started.EndPoint = address is not null && Uri.TryCreate(address, UriKind.Absolute, out var uri)
            ? new IPEndPoint(listen.Address, uri.Port)
            : listen;
        return started;
    }

    /// <summary>One request, one <see cref="DefaultHttpContext"/> over Kestrel's features, through the pipeline.</summary>
    sealed class Pipeline(RequestDelegate pipeline) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);
        public Task ProcessRequestAsync(HttpContext context) => pipeline(context);
        public void DisposeContext(HttpContext context, Exception? exception) { }
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
        await _server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        _server.Dispose();
        _provider.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }
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
