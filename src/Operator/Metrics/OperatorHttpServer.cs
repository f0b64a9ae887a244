using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace NginxHa.Operator.Metrics;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text, OpenTelemetry's exporter), <c>/healthz</c> (the process answers) and
/// <c>/readyz</c> (every informer has synced its cache: a standby replica is ready too, so a rollout never waits for the
/// Lease). Kestrel alone, as the agent's server: no routing, no logging providers.
/// </summary>
public sealed class OperatorHttpServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly MeterProvider _provider;

    OperatorHttpServer(WebApplication app, MeterProvider provider, IPEndPoint endPoint)
    {
        _app = app;
        _provider = provider;
        EndPoint = endPoint;
    }

    /// <summary>Where it listens (the port resolved when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; }

    public static async Task<OperatorHttpServer> StartAsync(IPEndPoint listen, OperatorMetrics metrics, Func<(bool Ready, string Reason)> readiness,
        CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            o.Listen(listen);
            o.AddServerHeader = false;
            o.Limits.MaxConcurrentConnections = 16;
        });
        var provider = Sdk.CreateMeterProviderBuilder().ConfigureResource(r => r.AddService("nginx-ha-operator"))
            .AddMeter(metrics.Name)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0).Build();
        builder.Services.AddSingleton(provider);
        // The run command handles SIGTERM itself (it gives the Lease up); the host must not install its own handlers.
        builder.Services.AddSingleton<IHostLifetime, CommandOwnedLifetime>();
        var app = builder.Build();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(provider, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);
        app.Run(context => context.Request.Path.Value switch
        {
            "/healthz" => Text(context, StatusCodes.Status200OK, "ok\n"),
            "/readyz" => readiness() is var (ready, reason) && ready
                ? Text(context, StatusCodes.Status200OK, "ready\n")
                : Text(context, StatusCodes.Status503ServiceUnavailable, $"not ready: {reason}\n"),
            _ => Text(context, StatusCodes.Status404NotFound, "not found: /metrics /healthz /readyz\n"),
        });
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            provider.Dispose();
            throw;
        }
        var address = app.Urls.FirstOrDefault();
        var endPoint = address is not null && Uri.TryCreate(address, UriKind.Absolute, out var uri) ? new IPEndPoint(listen.Address, uri.Port) : listen;
        return new OperatorHttpServer(app, provider, endPoint);
    }

    static Task Text(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(body);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _provider.Dispose();
    }

    sealed class CommandOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
