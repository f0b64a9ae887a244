using System.Net;
using Microsoft.AspNetCore.Http;
using NginxHa.Observability;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace NginxHa.Operator.Metrics;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text, OpenTelemetry's exporter), <c>/healthz</c> (the process answers) and
/// <c>/readyz</c> (every informer has synced its cache: a standby replica is ready too, so a rollout never waits for the
/// Lease), on <see cref="MetricsHttpServer"/> as the agent: Kestrel without a host, so the run command keeps its own
/// SIGTERM handling (it gives the Lease up).
/// </summary>
public sealed class OperatorHttpServer : IAsyncDisposable
{
    readonly MetricsHttpServer _server;

    OperatorHttpServer(MetricsHttpServer server) => _server = server;

    /// <summary>Where it listens (the port resolved when 0 was asked for).</summary>
    public IPEndPoint EndPoint => _server.EndPoint;

    public static async Task<OperatorHttpServer> StartAsync(IPEndPoint listen, OperatorMetrics metrics, Func<(bool Ready, string Reason)> readiness,
        CancellationToken cancellationToken)
    {
        var provider = Sdk.CreateMeterProviderBuilder().ConfigureResource(r => r.AddService("nginx-ha-operator"))
            .AddMeter(metrics.Name)
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0).Build();
        var server = await MetricsHttpServer.StartAsync(listen, provider, context => context.Request.Path.Value switch
        {
            "/healthz" => MetricsHttpServer.Text(context, StatusCodes.Status200OK, "ok\n"),
            "/readyz" => readiness() is var (ready, reason) && ready
                ? MetricsHttpServer.Text(context, StatusCodes.Status200OK, "ready\n")
                : MetricsHttpServer.Text(context, StatusCodes.Status503ServiceUnavailable, $"not ready: {reason}\n"),
            _ => MetricsHttpServer.Text(context, StatusCodes.Status404NotFound, "not found: /metrics /healthz /readyz\n"),
        }, cancellationToken).ConfigureAwait(false);
        return new OperatorHttpServer(server);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
