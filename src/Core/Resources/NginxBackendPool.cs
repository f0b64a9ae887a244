using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using NginxHa.Core.Resources.Schema;

namespace NginxHa.Core.Resources;

/// <summary>An nginx load-balancing site: listeners, upstream servers and proxy settings.</summary>
[KubernetesEntity(KindName, "nginxbackendpools", ShortNames = ["nbp"])]
[Description("An nginx load-balancing site served on the virtual IPs of the VirtualIpGroups that refer to it: listeners, upstream servers and proxy settings.")]
[PrinterColumn("Listeners", ".spec.listeners[*].port")]
[PrinterColumn("Backends", ".spec.backends.servers[*].address", Priority = 1, Description = "The static upstream servers.")]
[PrinterColumn("Service", ".spec.backends.service.name", Priority = 1, Description = "The Service whose endpoints are the upstream servers.")]
[PrinterColumn("Ready", ".status.conditions[?(@.type==\"Ready\")].status")]
[PrinterColumn("Age", ".metadata.creationTimestamp", "date")]
public sealed class NginxBackendPool : Resource, IValidatable
{
    public const string KindName = "NginxBackendPool";

    [Description("What nginx serves.")]
    [Required]
    [CelRule("!(has(self.backends.servers) && size(self.backends.servers) > 0 && has(self.backends.service))", ServersAndServiceMessage, FieldPath = ".backends")]
    public NginxBackendPoolSpec Spec { get; set; } = new();

    [StatusSubresource, Description("Written by the operator: conditions.")]
    public NginxBackendPoolStatus? Status { get; set; }

    /// <summary>Problems in the metadata and the spec, with paths starting at <c>metadata.</c> / <c>spec.</c>.</summary>
    public IEnumerable<(string Path, string Message)> Validate()
    {
        var problems = Validation.MetadataValidator.Validate(Metadata, namespaced: true).Concat(Spec.Validate());
        // Only what the user writes: the spec a node gets (NodeHaConfig, the renderer) keeps the Service next to the
        // servers the resolver found for it.
        if (Spec.Backends.Servers.Count > 0 && Spec.Backends.Service is not null)
            problems = problems.Append(("spec.backends", ServersAndServiceMessage));
        return problems;
    }

    public const string ServersAndServiceMessage = "set either servers or service, not both";
}

/// <summary>
/// What one pool asks of nginx. Unset (null) values leave nginx's own default in place.
/// Durations are nginx time strings ("60s", "500ms"), sizes nginx size strings ("16k", "8m").
/// </summary>
[CelRule("!has(self.listeners) || self.listeners.all(l, self.listeners.filter(m, m.port == l.port).size() == 1)",
    "lists the same port twice", FieldPath = ".listeners")]
public sealed class NginxBackendPoolSpec
{
    public const int MaxListeners = 32;
    public const int MaxServers = 256;

    [Description("Ports to serve. Empty means one plain HTTP listener on port 80.")]
    [MaxItems(MaxListeners)]
    public List<NginxListener> Listeners { get; set; } = new();

    [Description("nginx server_name values: exact names, \"*.example.com\", \".example.com\", \"example.*\" or \"_\".")]
    [MaxItems(MaxServers), ItemMaxLength(253), Pattern(@"^[A-Za-z0-9*_.-]+$")]
    public List<string> ServerNames { get; set; } = new();

    [Description("How nginx picks an upstream server.")]
    public LoadBalancing LoadBalancing { get; set; } = new();

    [Description("The upstream servers: static servers or a Service, exactly one of them.")]
    [Required]
    public Backends Backends { get; set; } = new();

    [Description("Idle connections kept open to the backends; null turns upstream keepalive off.")]
    public UpstreamKeepalive? UpstreamKeepalive { get; set; }

    [Description("proxy_* settings towards the upstream servers.")]
    public ProxySettings Proxy { get; set; } = new();

    [Description("client_max_body_size, e.g. \"8m\"; \"0\" disables the check.")]
    [Pattern(SchemaPatterns.NginxOffset)]
    public string? ClientMaxBodySize { get; set; }

    [Description("client_header_buffer_size, e.g. \"32k\".")]
    [Pattern(SchemaPatterns.NginxSize)]
    public string? ClientHeaderBufferSize { get; set; }

    [Description("large_client_header_buffers, e.g. 4 x \"32k\".")]
    public BufferSet? LargeClientHeaderBuffers { get; set; }

    [Description("keepalive_timeout towards clients, e.g. \"60s\"; \"0\" disables client keepalive.")]
    [Pattern(SchemaPatterns.NginxDuration)]
    public string? ClientKeepaliveTimeout { get; set; }

    [Description("gzip compression of responses; unset leaves gzip off.")]
    public GzipSettings? Gzip { get; set; }

    [Description("The pool's access log.")]
    public AccessLogSettings AccessLog { get; set; } = new();

    [Description("nginx stub_status endpoint; unset serves none.")]
    public StatusEndpoint? Status { get; set; }

    [Description("Process-wide settings; when several pools run on one node they must agree.")]
    public WorkerSettings? Worker { get; set; }

    public IEnumerable<(string Path, string Message)> Validate() => NginxBackendPoolValidator.Validate(this);
}

public sealed class NginxListener
{
    [Description("TCP port.")]
    [Range(1, 65535)]
    public int Port { get; set; } = 80;

    [Description("Bind to one address instead of the wildcard. Leave unset for VIPs: the VIP may sit on the peer node when nginx starts, and a wildcard listener serves it the moment it moves here.")]
    [Pattern(SchemaPatterns.Address), StringLength(45)]
    public string? Address { get; set; }

    [Description("TLS on this port; null means plain HTTP.")]
    public ListenerTls? Tls { get; set; }

    [Description("Serve requests whose Host matches no server name on this port.")]
    public bool DefaultServer { get; set; }
}

/// <summary>Certificate and key: a kubernetes.io/tls Secret, or PEM files (standalone mode).</summary>
[CelRule("!(has(self.secretName) && (has(self.certificateFile) || has(self.keyFile)))",
    "set either secretName or certificateFile and keyFile, not both")]
[CelRule("has(self.secretName) || has(self.certificateFile) || has(self.keyFile)", "set secretName, or certificateFile and keyFile")]
[CelRule("has(self.secretName) || !has(self.certificateFile) || has(self.keyFile)", "is required", FieldPath = ".keyFile")]
[CelRule("has(self.secretName) || !has(self.keyFile) || has(self.certificateFile)", "is required", FieldPath = ".certificateFile")]
public sealed class ListenerTls
{
    [Description("A kubernetes.io/tls Secret in the pool's namespace.")]
    [StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)]
    public string? SecretName { get; set; }

    [Description("PEM certificate chain; relative paths are relative to the runtime config directory.")]
    [Pattern(SchemaPatterns.SafeFilePath), StringLength(1024)]
    public string? CertificateFile { get; set; }

    [Description("PEM private key; relative paths are relative to the runtime config directory.")]
    [Pattern(SchemaPatterns.SafeFilePath), StringLength(1024)]
    public string? KeyFile { get; set; }
}

public enum LoadBalancingMethod
{
    RoundRobin,
    LeastConn,
    IpHash,
    Hash,
}

[CelRule("self.method != 'Hash' || has(self.hashKey)", "is required when method is Hash", FieldPath = ".hashKey")]
[CelRule("self.method == 'Hash' || !has(self.hashKey)", "is only used when method is Hash", FieldPath = ".hashKey")]
[CelRule("self.method == 'Hash' || !self.consistent", "is only used when method is Hash", FieldPath = ".consistent")]
public sealed class LoadBalancing
{
    [Description("RoundRobin, LeastConn, IpHash (a client keeps its server) or Hash (on hashKey).")]
    public LoadBalancingMethod Method { get; set; } = LoadBalancingMethod.RoundRobin;

    [Description("For Hash: a template of nginx variables, e.g. \"$request_uri\".")]
    public string? HashKey { get; set; }

    [Description("For Hash: ketama consistent hashing.")]
    public bool Consistent { get; set; }
}

[CelRule("(has(self.servers) && size(self.servers) > 0) || has(self.service)", "set servers or service")]
public sealed class Backends
{
    [Description("Static servers, or the servers resolved from Service (the resolver replaces them).")]
    [MaxItems(NginxBackendPoolSpec.MaxServers)]
    public List<BackendServer> Servers { get; set; } = new();

    [Description("A Kubernetes Service whose ready endpoints become the servers.")]
    public BackendService? Service { get; set; }
}

public sealed class BackendServer
{
    [Description("IPv4, IPv6 or host name (resolved by nginx when it loads the config).")]
    [Required, Pattern(SchemaPatterns.AddressOrHostName)]
    public string Address { get; set; } = "";

    [Description("TCP port.")]
    [Range(1, 65535)]
    public int Port { get; set; } = 80;

    [Description("nginx weight, 1..1000.")]
    [Range(1, 1000)]
    public int? Weight { get; set; }

    [Description("Used only when the other servers are down (not with IpHash or Hash).")]
    public bool Backup { get; set; }

    [Description("nginx max_fails: failed attempts within failTimeout that mark the server down.")]
    [Range(0, int.MaxValue)]
    public int? MaxFails { get; set; }

    [Description("nginx fail_timeout, e.g. \"10s\".")]
    [Pattern(SchemaPatterns.NginxDuration)]
    public string? FailTimeout { get; set; }

    [Description("Marks the server permanently unavailable.")]
    public bool Down { get; set; }
}

public sealed class BackendService
{
    [Description("Service in the pool's namespace.")]
    [Required, StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)]
    public string Name { get; set; } = "";

    [Description("Service port.")]
    [Required, Range(1, 65535)]
    public int Port { get; set; }
}

public sealed class UpstreamKeepalive
{
    [Description("Idle connections cached per worker process.")]
    [Range(1, int.MaxValue)]
    public int Connections { get; set; } = 32;

    [Description("keepalive_timeout of an idle upstream connection, e.g. \"60s\".")]
    [Pattern(SchemaPatterns.NginxDuration)]
    public string? Timeout { get; set; }

    [Description("Requests served over one connection before it is closed.")]
    [Range(1, int.MaxValue)]
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
    [Description("Request headers set towards the upstream servers.")]
    public ProxyHeaders Headers { get; set; } = new();

    [Description("proxy_connect_timeout, e.g. \"2s\".")]
    [Pattern(SchemaPatterns.NginxDuration)]
    public string? ConnectTimeout { get; set; }

    [Description("proxy_send_timeout.")]
    [Pattern(SchemaPatterns.NginxDuration)]
    public string? SendTimeout { get; set; }

    [Description("proxy_read_timeout.")]
    [Pattern(SchemaPatterns.NginxDuration)]
    public string? ReadTimeout { get; set; }

    [Description("proxy_buffering; unset leaves nginx's default (on).")]
    public bool? Buffering { get; set; }

    [Description("proxy_buffer_size, e.g. \"8k\".")]
    [Pattern(SchemaPatterns.NginxSize)]
    public string? BufferSize { get; set; }

    [Description("proxy_buffers, e.g. 8 x \"8k\".")]
    public BufferSet? Buffers { get; set; }

    [Description("proxy_busy_buffers_size.")]
    [Pattern(SchemaPatterns.NginxSize)]
    public string? BusyBuffersSize { get; set; }

    [Description("Default: nginx rewrites Location headers that point at the upstream. Off: they pass through unchanged.")]
    public ProxyRedirect Redirect { get; set; } = ProxyRedirect.Default;
}

public sealed class ProxyHeaders
{
    [Description("Host: $host.")]
    public bool SetHost { get; set; } = true;
    [Description("X-Real-IP: $remote_addr.")]
    public bool RealIp { get; set; } = true;
    [Description("X-Forwarded-For: $proxy_add_x_forwarded_for.")]
    public bool ForwardedFor { get; set; } = true;
    [Description("X-Forwarded-Proto: $scheme.")]
    public bool ForwardedProto { get; set; } = true;
    [Description("Further request headers with literal values (no nginx variables).")]
    public Dictionary<string, string> Extra { get; set; } = new();
}

/// <summary>A count of equally sized buffers, as in "proxy_buffers 4 64k".</summary>
public sealed class BufferSet
{
    [Description("How many buffers.")]
    [Required, Range(1, 1024)]
    public int Number { get; set; }

    [Description("Size of one buffer, e.g. \"32k\".")]
    [Required, Pattern(SchemaPatterns.NginxSize)]
    public string Size { get; set; } = "";
}

public sealed class GzipSettings
{
    [Description("gzip on.")]
    public bool Enabled { get; set; } = true;

    [Description("gzip_min_length, e.g. \"1k\".")]
    [Pattern(SchemaPatterns.NginxSize)]
    public string? MinLength { get; set; }

    [Description("gzip_comp_level, 1..9.")]
    [Range(1, 9)]
    public int? CompLevel { get; set; }
    [Description("MIME types besides text/html (which nginx always compresses).")]
    [MaxItems(64), ItemMaxLength(127)]
    public List<string> Types { get; set; } = new();

    [Description("gzip_vary: add \"Vary: Accept-Encoding\".")]
    public bool? Vary { get; set; }

    [Description("gzip_buffers.")]
    public BufferSet? Buffers { get; set; }
    [Description("\"1.0\" or \"1.1\".")]
    [Pattern(@"^1\.[01]$")]
    public string? HttpVersion { get; set; }
}

public sealed class AccessLogSettings
{
    [Description("False writes no access log (access_log off).")]
    public bool Enabled { get; set; } = true;

    [Description("A log_format template of nginx variables; null uses nginx's \"combined\".")]
    public string? Format { get; set; }

    [Description("Log file; relative paths are under the runtime access log directory. Default \"POOL.access.log\".")]
    public string? Path { get; set; }
}

[CelRule("!self.enabled || has(self.basicAuth) || (has(self.allow) && size(self.allow) > 0)",
    "an enabled status endpoint needs basicAuth or an allow list; it would be open to everyone")]
public sealed class StatusEndpoint
{
    [Description("Serve the status endpoint.")]
    public bool Enabled { get; set; } = true;

    [Description("URL path of the endpoint.")]
    [Pattern(@"^/[A-Za-z0-9._~/-]{1,255}$")]
    public string Path { get; set; } = "/nginx_status";

    [Description("Serve status on its own port instead of inside the pool's listeners.")]
    [Range(1, 65535)]
    public int? Port { get; set; }

    [Description("HTTP basic authentication for the endpoint.")]
    public BasicAuth? BasicAuth { get; set; }

    [Description("Client addresses or CIDRs allowed; everyone else is denied. Empty allows all that authenticate.")]
    [MaxItems(64), ItemMaxLength(49)]
    public List<string> Allow { get; set; } = new();
}

/// <summary>HTTP basic auth from an htpasswd file: a Secret with key "auth", or a file (standalone).</summary>
[CelRule("has(self.secretName) != has(self.htpasswdFile)", "set exactly one of secretName and htpasswdFile")]
public sealed class BasicAuth
{
    [Description("A Secret in the pool's namespace with the htpasswd file under key \"auth\".")]
    [StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)]
    public string? SecretName { get; set; }

    [Description("Standalone: an htpasswd file; relative paths are relative to the runtime config directory.")]
    [Pattern(SchemaPatterns.SafeFilePath), StringLength(1024)]
    public string? HtpasswdFile { get; set; }

    [Description("Realm shown by the browser's password prompt.")]
    [StringLength(128, MinimumLength = 1)]
    public string Realm { get; set; } = "Restricted";
}

public sealed class WorkerSettings
{
    [Description("\"auto\" or a positive number.")]
    [Pattern(@"^(auto|[1-9][0-9]{0,3})$")]
    public string? Processes { get; set; }

    [Description("worker_connections.")]
    [Range(1, int.MaxValue)]
    public int? Connections { get; set; }

    [Description("worker_rlimit_nofile.")]
    [Range(1, int.MaxValue)]
    public int? RlimitNofile { get; set; }
}

public sealed class NginxBackendPoolStatus
{
    [Description("Ready: referenced by a group, served on its nodes, and no node's nginx rejected it.")]
    public List<Condition> Conditions { get; set; } = new();

    [Description("The metadata.generation the status describes.")]
    public long? ObservedGeneration { get; set; }

    [Description("The upstream servers in force, \"address:port\": the static servers, or the ready endpoints of the Service.")]
    public List<string> Endpoints { get; set; } = new();

    [Description("The nodes whose NodeHaConfig carries this pool.")]
    public List<string> Nodes { get; set; } = new();

    [Description("Nodes whose nginx refused its current config, with nginx's error.")]
    public List<NodeError> RejectedBy { get; set; } = new();
}

public sealed class NodeError
{
    public string Node { get; set; } = "";
    public string Error { get; set; } = "";
}
