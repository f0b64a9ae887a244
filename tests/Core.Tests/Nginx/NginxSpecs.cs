using NginxHa.Core.Nginx;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Nginx;

/// <summary>Valid specs that use every field, to change one field at a time in tests.</summary>
internal static class NginxSpecs
{
    public static NginxBackendPoolSpec Full() => new()
    {
        Listeners =
        [
            new NginxListener { Port = 80 },
            new NginxListener { Port = 443, DefaultServer = true, Tls = new ListenerTls { SecretName = "web-tls" } },
        ],
        ServerNames = ["www.example.org"],
        LoadBalancing = new LoadBalancing { Method = LoadBalancingMethod.LeastConn },
        Backends = new Backends
        {
            Servers =
            [
                new BackendServer { Address = "198.18.0.10", Port = 8080, Weight = 2, MaxFails = 3, FailTimeout = "30s" },
                new BackendServer { Address = "198.18.0.11", Port = 8080, Backup = true },
            ],
            Service = new BackendService { Name = "web", Port = 8080 },
        },
        UpstreamKeepalive = new UpstreamKeepalive { Connections = 16, Timeout = "60s", Requests = 100 },
        Proxy = new ProxySettings
        {
            Headers = new ProxyHeaders { Extra = new() { ["X-Edge"] = "blue" } },
            ConnectTimeout = "5s",
            SendTimeout = "60s",
            ReadTimeout = "60s",
            Buffering = true,
            BufferSize = "16k",
            Buffers = new BufferSet { Number = 8, Size = "16k" },
            BusyBuffersSize = "32k",
        },
        ClientMaxBodySize = "8m",
        ClientHeaderBufferSize = "4k",
        LargeClientHeaderBuffers = new BufferSet { Number = 4, Size = "16k" },
        ClientKeepaliveTimeout = "60s",
        Gzip = new GzipSettings
        {
            MinLength = "1k",
            CompLevel = 2,
            Types = ["text/css"],
            Vary = true,
            Buffers = new BufferSet { Number = 4, Size = "16k" },
            HttpVersion = "1.1",
        },
        AccessLog = new AccessLogSettings { Format = "$remote_addr $status", Path = "web.log" },
        Status = new StatusEndpoint
        {
            Path = "/nginx_status",
            Allow = ["127.0.0.1"],
            BasicAuth = new BasicAuth { SecretName = "status-auth", Realm = "Status" },
        },
        Worker = new WorkerSettings { Processes = "auto", Connections = 1024, RlimitNofile = 4096 },
    };

    public static NginxRuntimeOptions Runtime() => NginxRuntimeOptions.UnderDirectory("/run/nginx-ha/test", 18080);

    public static NginxRenderInput Input(params (string Name, NginxBackendPoolSpec Spec)[] pools) => new(pools, Runtime());
}
