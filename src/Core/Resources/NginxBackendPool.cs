namespace NginxHa.Core.Resources;

/// <summary>An nginx load-balancing site: listeners, upstream servers and proxy settings.</summary>
public sealed class NginxBackendPool : Resource, IValidatable
{
    public NginxBackendPoolSpec Spec { get; set; } = new();

    /// <summary>Problems in the metadata and the spec, with paths starting at <c>metadata.</c> / <c>spec.</c>.</summary>
    public IEnumerable<(string Path, string Message)> Validate() =>
        Validation.MetadataValidator.Validate(Metadata, namespaced: true).Concat(Spec.Validate());
}

/// <summary>
/// What one pool asks of nginx. Unset (null) values leave nginx's own default in place.
/// Durations are nginx time strings ("60s", "500ms"), sizes nginx size strings ("16k", "8m").
/// </summary>
public sealed class NginxBackendPoolSpec
{
    /// <summary>Ports to serve. Empty means one plain HTTP listener on port 80.</summary>
    public List<NginxListener> Listeners { get; set; } = new();

    /// <summary>nginx server_name values: exact names, "*.example.com", ".example.com", "example.*" or "_".</summary>
    public List<string> ServerNames { get; set; } = new();

    public LoadBalancing LoadBalancing { get; set; } = new();
    public Backends Backends { get; set; } = new();

    /// <summary>Idle connections kept open to the backends; null turns upstream keepalive off.</summary>
    public UpstreamKeepalive? UpstreamKeepalive { get; set; }

    public ProxySettings Proxy { get; set; } = new();

    /// <summary>client_max_body_size, e.g. "8m"; "0" disables the check.</summary>
    public string? ClientMaxBodySize { get; set; }

    /// <summary>client_header_buffer_size, e.g. "32k".</summary>
    public string? ClientHeaderBufferSize { get; set; }

    /// <summary>large_client_header_buffers, e.g. 4 x "32k".</summary>
    public BufferSet? LargeClientHeaderBuffers { get; set; }

    /// <summary>keepalive_timeout towards clients, e.g. "60s"; "0" disables client keepalive.</summary>
    public string? ClientKeepaliveTimeout { get; set; }

    public GzipSettings? Gzip { get; set; }
    public AccessLogSettings AccessLog { get; set; } = new();
    public StatusEndpoint? Status { get; set; }

    /// <summary>Process-wide settings; when several pools run on one node they must agree.</summary>
    public WorkerSettings? Worker { get; set; }

    public IEnumerable<(string Path, string Message)> Validate() => NginxBackendPoolValidator.Validate(this);
}

public sealed class NginxListener
{
    public int Port { get; set; } = 80;

    /// <summary>
    /// Bind to one address instead of the wildcard. Leave unset for VIPs: the VIP may sit on the
    /// peer node when nginx starts, and a wildcard listener serves it the moment it moves here.
    /// </summary>
    public string? Address { get; set; }

    /// <summary>TLS on this port; null means plain HTTP.</summary>
    public ListenerTls? Tls { get; set; }

    /// <summary>Serve requests whose Host matches no server name on this port.</summary>
    public bool DefaultServer { get; set; }
}

/// <summary>Certificate and key: a kubernetes.io/tls Secret, or PEM files (standalone mode).</summary>
public sealed class ListenerTls
{
    public string? SecretName { get; set; }

    /// <summary>PEM certificate chain; relative paths are relative to the runtime config directory.</summary>
    public string? CertificateFile { get; set; }

    /// <summary>PEM private key; relative paths are relative to the runtime config directory.</summary>
    public string? KeyFile { get; set; }
}

public enum LoadBalancingMethod
{
    RoundRobin,
    LeastConn,
    IpHash,
    Hash,
}

public sealed class LoadBalancing
{
    public LoadBalancingMethod Method { get; set; } = LoadBalancingMethod.RoundRobin;

    /// <summary>For <see cref="LoadBalancingMethod.Hash"/>: a template of nginx variables, e.g. "$request_uri".</summary>
    public string? HashKey { get; set; }

    /// <summary>For <see cref="LoadBalancingMethod.Hash"/>: ketama consistent hashing.</summary>
    public bool Consistent { get; set; }
}

public sealed class Backends
{
    /// <summary>Static servers, or the servers resolved from <see cref="Service"/> (the resolver replaces them).</summary>
    public List<BackendServer> Servers { get; set; } = new();

    /// <summary>A Kubernetes Service whose ready endpoints become the servers.</summary>
    public BackendService? Service { get; set; }
}

public sealed class BackendServer
{
    /// <summary>IPv4, IPv6 or host name (resolved by nginx when it loads the config).</summary>
    public string Address { get; set; } = "";
    public int Port { get; set; } = 80;
    public int? Weight { get; set; }
    public bool Backup { get; set; }
    public int? MaxFails { get; set; }
    public string? FailTimeout { get; set; }
    public bool Down { get; set; }
}

public sealed class BackendService
{
    public string Name { get; set; } = "";
    public int Port { get; set; }
}

public sealed class UpstreamKeepalive
{
    /// <summary>Idle connections cached per worker process.</summary>
    public int Connections { get; set; } = 32;
    public string? Timeout { get; set; }
    public int? Requests { get; set; }
}

public enum ProxyRedirect
{
    /// <summary>nginx rewrites Location headers that point at the upstream.</summary>
    Default,
    /// <summary>Location headers pass through unchanged.</summary>
    Off,
}

public sealed class ProxySettings
{
    public ProxyHeaders Headers { get; set; } = new();
    public string? ConnectTimeout { get; set; }
    public string? SendTimeout { get; set; }
    public string? ReadTimeout { get; set; }
    public bool? Buffering { get; set; }
    public string? BufferSize { get; set; }
    public BufferSet? Buffers { get; set; }
    public string? BusyBuffersSize { get; set; }
    public ProxyRedirect Redirect { get; set; } = ProxyRedirect.Default;
}

public sealed class ProxyHeaders
{
    /// <summary>Host: $host.</summary>
    public bool SetHost { get; set; } = true;
    /// <summary>X-Real-IP: $remote_addr.</summary>
    public bool RealIp { get; set; } = true;
    /// <summary>X-Forwarded-For: $proxy_add_x_forwarded_for.</summary>
    public bool ForwardedFor { get; set; } = true;
    /// <summary>X-Forwarded-Proto: $scheme.</summary>
    public bool ForwardedProto { get; set; } = true;
    /// <summary>Further request headers with literal values (no nginx variables).</summary>
    public Dictionary<string, string> Extra { get; set; } = new();
}

/// <summary>A count of equally sized buffers, as in "proxy_buffers 4 64k".</summary>
public sealed class BufferSet
{
    public int Number { get; set; }
    public string Size { get; set; } = "";
}

public sealed class GzipSettings
{
    public bool Enabled { get; set; } = true;
    public string? MinLength { get; set; }
    public int? CompLevel { get; set; }
    /// <summary>MIME types besides text/html (which nginx always compresses).</summary>
    public List<string> Types { get; set; } = new();
    public bool? Vary { get; set; }
    public BufferSet? Buffers { get; set; }
    /// <summary>"1.0" or "1.1".</summary>
    public string? HttpVersion { get; set; }
}

public sealed class AccessLogSettings
{
    /// <summary>False writes no access log (access_log off).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>A log_format template of nginx variables; null uses nginx's "combined".</summary>
    public string? Format { get; set; }

    /// <summary>Log file; relative paths are under the runtime access log directory. Default "POOL.access.log".</summary>
    public string? Path { get; set; }
}

public sealed class StatusEndpoint
{
    public bool Enabled { get; set; } = true;
    public string Path { get; set; } = "/nginx_status";

    /// <summary>Serve status on its own port instead of inside the pool's listeners.</summary>
    public int? Port { get; set; }

    public BasicAuth? BasicAuth { get; set; }

    /// <summary>Client addresses or CIDRs allowed; everyone else is denied. Empty allows all that authenticate.</summary>
    public List<string> Allow { get; set; } = new();
}

/// <summary>HTTP basic auth from an htpasswd file: a Secret with key "auth", or a file (standalone).</summary>
public sealed class BasicAuth
{
    public string? SecretName { get; set; }
    public string? HtpasswdFile { get; set; }
    public string Realm { get; set; } = "Restricted";
}

public sealed class WorkerSettings
{
    /// <summary>"auto" or a positive number.</summary>
    public string? Processes { get; set; }
    public int? Connections { get; set; }
    public int? RlimitNofile { get; set; }
}
