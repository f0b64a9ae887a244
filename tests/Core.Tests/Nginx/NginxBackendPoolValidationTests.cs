using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Nginx;

public sealed class NginxBackendPoolValidationTests
{
    [Fact]
    public void A_spec_using_every_field_is_valid() => Assert.Empty(NginxSpecs.Full().Validate());

    [Fact]
    public void The_resource_validates_its_spec()
    {
        var pool = new NginxBackendPool { Metadata = new ObjectMeta { Name = "web", Namespace = "edge" }, Spec = NginxSpecs.Full() };
        pool.Spec.Backends.Service = null; // Full() is a resolved spec: servers found for its Service
        pool.Spec.Backends.Servers[0].Weight = 0;

        var error = Assert.Single(pool.Validate());
        Assert.Equal("spec.backends.servers[0].weight", error.Path);
    }

    [Fact]
    public void A_pool_names_static_servers_or_a_Service_not_both()
    {
        var pool = new NginxBackendPool { Metadata = new ObjectMeta { Name = "web", Namespace = "edge" }, Spec = NginxSpecs.Full() };

        var error = Assert.Single(pool.Validate());
        Assert.Equal(("spec.backends", "set either servers or service, not both"), error);
        // The spec a node renders keeps the Service beside the servers resolved from it.
        Assert.Empty(pool.Spec.Validate());
    }

    public static TheoryData<string, string, string> BadValues() => new()
    {
        { "listener port 0", "spec.listeners[0].port", "0 is not a port" },
        { "listener port twice", "spec.listeners[1].port", "port 80 is listed twice" },
        { "listener address", "spec.listeners[0].address", "\"1\" is not an IP address" },
        { "tls empty", "spec.listeners[1].tls", "set secretName, or certificateFile and keyFile" },
        { "tls both", "spec.listeners[1].tls", "not both" },
        { "tls missing key", "spec.listeners[1].tls.keyFile", "is required" },
        { "tls secret name", "spec.listeners[1].tls.secretName", "\"Web_TLS\" is not a Kubernetes name" },
        { "server name regex", "spec.serverNames[0]", "\"~^www\\\\d+$\" is not a host name" },
        { "server name twice", "spec.serverNames[1]", "\"WWW.example.org\" is listed twice" },
        { "hash without key", "spec.loadBalancing.hashKey", "is required when method is Hash" },
        { "key without hash", "spec.loadBalancing.hashKey", "only used when method is Hash, not LeastConn" },
        { "consistent without hash", "spec.loadBalancing.consistent", "not LeastConn" },
        { "no backends", "spec.backends", "set servers or service" },
        { "weight", "spec.backends.servers[2].weight", "0 is not between 1 and 1000" },
        { "max fails", "spec.backends.servers[0].maxFails", "-1 is negative" },
        { "fail timeout", "spec.backends.servers[0].failTimeout", "\"ten\" is not a duration" },
        { "backup with ip_hash", "spec.backends.servers[1].backup", "cannot be used with method IpHash" },
        { "server twice", "spec.backends.servers[2]", "198.18.0.10 port 8080 is listed twice" },
        { "keepalive connections", "spec.upstreamKeepalive.connections", "0 is less than 1" },
        { "reserved header", "spec.proxy.headers.extra[\"host\"]", "header host is set by the proxy.headers switches" },
        { "header with variable", "spec.proxy.headers.extra[\"X-Edge\"]", "value \"$host\" must be a literal" },
        { "one proxy buffer", "spec.proxy.buffers.number", "1 is not between 2 and 1024" },
        { "buffer size above default busy limit", "spec.proxy.buffers", "must not exceed all buffers minus one (7 x 4096 = 28672 bytes)" },
        { "busy below one buffer", "spec.proxy.busyBuffersSize", "must be at least the larger of bufferSize and one of buffers (16384 bytes)" },
        { "gigabyte buffer size", "spec.proxy.bufferSize", "\"1g\" is not a size" },
        { "body size", "spec.clientMaxBodySize", "\"8 MB\" is not a size" },
        { "comp level", "spec.gzip.compLevel", "10 is not between 1 and 9" },
        { "gzip type", "spec.gzip.types[0]", "\"text\" is not a MIME type" },
        { "gzip http version", "spec.gzip.httpVersion", "\"2\" is not \"1.0\" or \"1.1\"" },
        { "log format dollar", "spec.accessLog.format", "\"$remote_addr $\" \"$\" at position 13" },
        { "log path dot dot", "spec.accessLog.path", "\"../../etc/passwd\" is not a file path" },
        { "status root", "spec.status.path", "\"/\" is not a path" },
        { "status open", "spec.status", "would be open to everyone" },
        { "status port on listener", "spec.status.port", "port 443 is already a listener" },
        { "realm quote", "spec.status.basicAuth.realm", "without \"$\", '\"' or '\\'" },
        { "auth both", "spec.status.basicAuth", "set exactly one of secretName and htpasswdFile" },
        { "allow cidr", "spec.status.allow[0]", "\"198.18.0.0/33\" is not an IP address or CIDR" },
        { "processes", "spec.worker.processes", "\"many\" is not \"auto\" or a number" },
        { "connections", "spec.worker.connections", "0 is less than 1" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Bad_values_are_reported_with_their_field(string change, string path, string message)
    {
        var spec = NginxSpecs.Full();
        Break(spec, change);

        var errors = spec.Validate().ToList();

        Assert.Contains(errors, error => error.Path == path && error.Message.Contains(message, StringComparison.Ordinal));
    }

    private static void Break(NginxBackendPoolSpec spec, string change)
    {
        switch (change)
        {
            case "listener port 0": spec.Listeners[0].Port = 0; break;
            case "listener port twice": spec.Listeners[1] = new NginxListener { Port = 80 }; break;
            case "listener address": spec.Listeners[0].Address = "1"; break;
            case "tls empty": spec.Listeners[1].Tls = new ListenerTls(); break;
            case "tls both": spec.Listeners[1].Tls!.CertificateFile = "a.crt"; spec.Listeners[1].Tls!.KeyFile = "a.key"; break;
            case "tls missing key": spec.Listeners[1].Tls = new ListenerTls { CertificateFile = "a.crt" }; break;
            case "tls secret name": spec.Listeners[1].Tls!.SecretName = "Web_TLS"; break;
            case "server name regex": spec.ServerNames[0] = "~^www\\d+$"; break;
            case "server name twice": spec.ServerNames.Add("WWW.example.org"); break;
            case "hash without key": spec.LoadBalancing.Method = LoadBalancingMethod.Hash; break;
            case "key without hash": spec.LoadBalancing.HashKey = "$request_uri"; break;
            case "consistent without hash": spec.LoadBalancing.Consistent = true; break;
            case "no backends": spec.Backends = new Backends(); break;
            case "weight": spec.Backends.Servers.Add(new BackendServer { Address = "198.18.0.12", Weight = 0 }); break;
            case "max fails": spec.Backends.Servers[0].MaxFails = -1; break;
            case "fail timeout": spec.Backends.Servers[0].FailTimeout = "ten"; break;
            case "backup with ip_hash": spec.LoadBalancing.Method = LoadBalancingMethod.IpHash; break;
            case "server twice": spec.Backends.Servers.Add(new BackendServer { Address = "198.18.0.10", Port = 8080 }); break;
            case "keepalive connections": spec.UpstreamKeepalive!.Connections = 0; break;
            case "reserved header": spec.Proxy.Headers.Extra["host"] = "example.org"; break;
            case "header with variable": spec.Proxy.Headers.Extra["X-Edge"] = "$host"; break;
            case "one proxy buffer": spec.Proxy.Buffers!.Number = 1; break;
            case "buffer size above default busy limit":
                spec.Proxy = new ProxySettings { BufferSize = "64k" };
                break;
            case "busy below one buffer": spec.Proxy.BusyBuffersSize = "8k"; break;
            case "gigabyte buffer size": spec.Proxy.BufferSize = "1g"; break;
            case "body size": spec.ClientMaxBodySize = "8 MB"; break;
            case "comp level": spec.Gzip!.CompLevel = 10; break;
            case "gzip type": spec.Gzip!.Types[0] = "text"; break;
            case "gzip http version": spec.Gzip!.HttpVersion = "2"; break;
            case "log format dollar": spec.AccessLog.Format = "$remote_addr $"; break;
            case "log path dot dot": spec.AccessLog.Path = "../../etc/passwd"; break;
            case "status root": spec.Status!.Path = "/"; break;
            case "status open": spec.Status!.BasicAuth = null; spec.Status.Allow.Clear(); break;
            case "status port on listener": spec.Status!.Port = 443; break;
            case "realm quote": spec.Status!.BasicAuth!.Realm = "say \"hi\""; break;
            case "auth both": spec.Status!.BasicAuth!.HtpasswdFile = "htpasswd"; break;
            case "allow cidr": spec.Status!.Allow[0] = "198.18.0.0/33"; break;
            case "processes": spec.Worker!.Processes = "many"; break;
            case "connections": spec.Worker!.Connections = 0; break;
            default: throw new ArgumentException($"unknown change {change}");
        }
    }

    [Fact]
    public void Hash_key_may_reference_variables_and_backup_is_refused_with_hash()
    {
        var spec = NginxSpecs.Full();
        spec.LoadBalancing = new LoadBalancing { Method = LoadBalancingMethod.Hash, HashKey = "${scheme}$request_uri", Consistent = true };

        var error = Assert.Single(spec.Validate());

        Assert.Equal("spec.backends.servers[1].backup", error.Path);
    }
}
