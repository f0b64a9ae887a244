using System.Net;
using System.Text.Json;
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
    readonly HttpListener _listener;
    readonly MeterProvider _provider;
    readonly Task _loop;

    MetricsServer(HttpListener listener, MeterProvider provider, Task loop)
    {
        _listener = listener;
        _provider = provider;
        _loop = loop;
    }

    /// <summary>Where the server listens.</summary>
    public IPEndPoint EndPoint { get; private set; } = new(IPAddress.Loopback, 0);

    public static Task<MetricsServer> StartAsync(IPEndPoint listen, AgentMetrics metrics, Func<Readiness> readiness,
        string node, CancellationToken ct)
    {
        // SCRATCH (issue 10 cost, route 4): OpenTelemetry's HttpListener exporter for /metrics, a second HttpListener
        // on the same port for the other paths; measured only, not shipped.
        var prefix = $"http://{(listen.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{listen.Address}]" : listen.Address.ToString())}:{listen.Port}/";
        var provider = Sdk.CreateMeterProviderBuilder().ConfigureResource(r => r.AddService("nginx-ha-agent"))
            .AddMeter(metrics.Name)
            .AddView(instrument => instrument.Meter.Name == metrics.Name && AgentMetrics.SeriesLimits.TryGetValue(instrument.Name, out var limit)
                ? new MetricStreamConfiguration { CardinalityLimit = limit }
                : null)
            .AddPrometheusHttpListener(o => { o.Host = listen.Address.ToString(); o.Port = listen.Port; o.ScrapeEndpointPath = "/metrics"; }).Build();
        var listener = new HttpListener();
        foreach (var path in new[] { "healthz/", "readyz/", "status/" }) listener.Prefixes.Add(prefix + path);
        listener.Start();
        var loop = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync().ConfigureAwait(false); }
                catch (Exception) { return; }
                try
                {
                    var response = context.Response;
                    switch (context.Request.Url?.AbsolutePath)
                    {
                        case "/healthz": Text(response, 200, "ok\n"); break;
                        case "/readyz":
                            var r = readiness();
                            Text(response, r.Ready ? 200 : 503, r.Ready ? "ready\n" : $"not ready: {r.Reason}\n");
                            break;
                        case "/status":
                            var buffer = new MemoryStream();
                            using (var json = new Utf8JsonWriter(buffer)) AgentStatus.Write(json, node, metrics);
                            response.ContentType = "application/json";
                            response.OutputStream.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
                            response.Close();
                            break;
                        default: Text(response, 404, "not found: /metrics /healthz /readyz /status\n"); break;
                    }
                }
                catch (Exception) { }
            }
        });
        return Task.FromResult(new MetricsServer(listener, provider, loop) { EndPoint = listen });
    }

    static void Text(HttpListenerResponse response, int status, string body)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        var bytes = System.Text.Encoding.UTF8.GetBytes(body);
        response.OutputStream.Write(bytes);
        response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _loop.ConfigureAwait(false);
        _listener.Close();
        _provider.Dispose();
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
