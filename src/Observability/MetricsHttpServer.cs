using System.Net;
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
using OpenTelemetry.Metrics;

namespace NginxHa.Observability;

/// <summary>
/// The agent's and the operator's HTTP endpoint: <c>/metrics</c> through OpenTelemetry's Prometheus exporter, every other
/// path through the caller's handler. Kestrel hosted by hand: no WebApplication, host, configuration, logging or routing,
/// only the server and one request pipeline. That keeps ASP.NET Core's hosting code out of the agent's NativeAOT binary
/// and out of the operator's memory (docs/benchmarks.md, "Agent cost" and "Operator memory"). Without a host nothing
/// registers .NET's SIGTERM/SIGINT handlers either: both processes handle their signals themselves and stop this server.
/// </summary>
public sealed class MetricsHttpServer : IAsyncDisposable
{
    readonly KestrelServer _server;
    readonly MeterProvider _provider;
    readonly ServiceProvider _services;

    MetricsHttpServer(KestrelServer server, MeterProvider provider, ServiceProvider services, IPEndPoint endPoint)
    {
        _server = server;
        _provider = provider;
        _services = services;
        EndPoint = endPoint;
    }

    /// <summary>Where the server listens (the port resolved when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Listens on <paramref name="listen"/>; the server owns <paramref name="provider"/> from here on.</summary>
    public static async Task<MetricsHttpServer> StartAsync(IPEndPoint listen, MeterProvider provider, RequestDelegate otherPaths,
        CancellationToken cancellationToken)
    {
        // The exporter's middleware is created through the application's services: an empty container does.
        var services = new ServiceCollection().BuildServiceProvider();
        var app = new ApplicationBuilder(services);
        app.UseOpenTelemetryPrometheusScrapingEndpoint(provider, predicate: null, path: "/metrics", configureBranchedPipeline: null,
            optionsName: null);
        app.Run(otherPaths);

        var options = new KestrelServerOptions { AddServerHeader = false, ApplicationServices = services };
        options.Limits.MaxConcurrentConnections = 16;
        options.Listen(listen);
        var server = new KestrelServer(Options.Create(options),
            new SocketTransportFactory(Options.Create(new SocketTransportOptions()), NullLoggerFactory.Instance), NullLoggerFactory.Instance);
        try
        {
            await server.StartAsync(new Pipeline(app.Build()), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            server.Dispose();
            provider.Dispose();
            await services.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        var endPoint = address is not null && Uri.TryCreate(address, UriKind.Absolute, out var uri)
            ? new IPEndPoint(listen.Address, uri.Port)
            : listen;
        return new MetricsHttpServer(server, provider, services, endPoint);
    }

    /// <summary>A plain-text answer.</summary>
    public static Task Text(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(body);
    }

    /// <summary>One request, one <see cref="DefaultHttpContext"/> over Kestrel's features, through the pipeline.</summary>
    sealed class Pipeline(RequestDelegate pipeline) : IHttpApplication<HttpContext>
    {
        public HttpContext CreateContext(IFeatureCollection contextFeatures) => new DefaultHttpContext(contextFeatures);
        public Task ProcessRequestAsync(HttpContext context) => pipeline(context);
        public void DisposeContext(HttpContext context, Exception? exception) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        _server.Dispose();
        _provider.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }
}
