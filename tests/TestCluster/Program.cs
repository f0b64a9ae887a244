using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using NginxHa.TestCluster.Front;
using Front = NginxHa.TestCluster.Front;
using NginxHa.TestCluster.StandIn;

// The test cluster's front and stand-in, one process on 127.0.0.1 (scripts/cluster.sh starts it):
//   core/v1, apps/v1 and batch/v1 (the kinds a CRD cannot stand in for) are served here from memory;
//   /api, /apis are merged discovery; everything else goes to the real CRD API server.
var options = Options.Parse(args);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseKestrel(k => k.Listen(System.Net.IPAddress.Loopback, options.Port));
var app = builder.Build();

using var upstream = new UpstreamProxy(options.Upstream, options.CaFile, options.CertFile, options.KeyFile);
var store = new ObjectStore(TimeProvider.System);
foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
    store.Create(ResourceKind.All[0], null, new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } }, dryRun: false);
var api = new ResourceApi(store, TimeProvider.System, options.BookmarkInterval);
string address = "";
var discovery = new Discovery(upstream, () => address);
var requests = new RequestCounter(); // test-only: API requests by client, verb and resource (bench/operator-scale.sh)

app.Run(async ctx =>
{
    var path = ctx.Request.Path.Value ?? "/";
    var get = ctx.Request.Method == "GET";
    if (!path.StartsWith("/_testcluster/", StringComparison.Ordinal)) requests.Count(ctx.Request);
    switch (path.TrimEnd('/'))
    {
        case "/api" when get: await ResourceApi.Write(ctx, 200, discovery.CoreVersions()); return;
        case "/api/v1" when get: await ResourceApi.Write(ctx, 200, Discovery.Resources("", "v1")); return;
        case "/apis" when get: await ResourceApi.Write(ctx, 200, await discovery.Groups(ctx.RequestAborted)); return;
    }
    if (get && path.TrimEnd('/').Split('/') is ["", "apis", var g, .. var rest] && ResourceKind.Groups.Contains(g) && rest is [] or ["v1"])
    {
        await ResourceApi.Write(ctx, 200, rest.Length == 0 ? Discovery.Group(g) : Discovery.Resources(g, "v1"));
        return;
    }
    switch (path.TrimEnd('/'))
    {
        case "/readyz" when get:
            // The real server's /readyz stays 503 (informers for APIs it does not serve): ready means healthy here.
            ctx.Request.Path = "/healthz";
            await upstream.Forward(ctx);
            return;
        case "/_testcluster/requests" when get:
            await ResourceApi.Write(ctx, 200, requests.Snapshot());
            return;
        case "/_testcluster/compact" when ctx.Request.Method == "POST":
            await ResourceApi.Write(ctx, 200, new JsonObject { ["compactedAt"] = store.Compact() });
            return;
    }
    if (Front.Route.Parse(path) is { } route)
    {
        if (route.Kind is null)
            await ResourceApi.Write(ctx, 404, new ApiError(404, "NotFound", "the server could not find the requested resource").ToStatus());
        else await api.Handle(ctx, route.Kind, route.Namespace, route.Name, route.Subresource);
        return;
    }
    await upstream.Forward(ctx);
});

await app.StartAsync();
var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
var port = new Uri(bound).Port;
address = $"127.0.0.1:{port}";
if (options.PortFile is { } portFile)
{
    File.WriteAllText(portFile + ".tmp", port.ToString(CultureInfo.InvariantCulture));
    File.Move(portFile + ".tmp", portFile, overwrite: true);
}
Console.WriteLine($"test cluster front listening on http://{address}, real server {options.Upstream}");
await app.WaitForShutdownAsync();

sealed record Options(Uri Upstream, string CaFile, string CertFile, string KeyFile, int Port, string? PortFile, TimeSpan BookmarkInterval)
{
    public static Options Parse(string[] args)
    {
        var map = new Dictionary<string, string>();
        for (var i = 0; i + 1 < args.Length; i += 2) map[args[i]] = args[i + 1];
        string Need(string flag) => map.TryGetValue(flag, out var v) ? v : throw new ArgumentException($"missing {flag}");
        return new(new Uri(Need("--upstream")), Need("--ca"), Need("--cert"), Need("--key"),
            map.TryGetValue("--port", out var p) ? int.Parse(p, CultureInfo.InvariantCulture) : 0,
            map.GetValueOrDefault("--port-file"),
            TimeSpan.FromSeconds(map.TryGetValue("--bookmark-interval-seconds", out var b) ? int.Parse(b, CultureInfo.InvariantCulture) : 60));
    }
}
