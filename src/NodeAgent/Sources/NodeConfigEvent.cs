using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Sources;

/// <summary>
/// Secrets a <see cref="NodeHaConfig"/> refers to, resolved by its source: the VRRPv2 PASS data of each instance that
/// names an authPasswordFile (standalone) or an authSecretRef (Kubernetes), keyed by instance name; and (Kubernetes) the
/// checked certificate and key of each TLS Secret its pools name, and the checked htpasswd file of each basic-auth
/// Secret, both keyed "namespace/name". Never logged.
/// </summary>
public sealed record NodeSecrets(IReadOnlyDictionary<string, ReadOnlyMemory<byte>> VrrpAuth)
{
    // Before None: static fields initialise in order, and None's Tls is this.
    static readonly IReadOnlyDictionary<string, TlsKeyPair> NoTls = new Dictionary<string, TlsKeyPair>();
    static readonly IReadOnlyDictionary<string, HtpasswdFile> NoHtpasswd = new Dictionary<string, HtpasswdFile>();

    public static readonly NodeSecrets None = new(new Dictionary<string, ReadOnlyMemory<byte>>());

    /// <summary>TLS Secrets by "namespace/name" (<see cref="Core.Nginx.NginxRenderInput.SecretKey"/>); none in standalone mode.</summary>
    public IReadOnlyDictionary<string, TlsKeyPair> Tls { get; init; } = NoTls;

    /// <summary>Basic-auth Secrets (key "auth") by "namespace/name"; none in standalone mode.</summary>
    public IReadOnlyDictionary<string, HtpasswdFile> Htpasswd { get; init; } = NoHtpasswd;

    public override string ToString() => $"NodeSecrets({VrrpAuth.Count} VRRP password(s), {Tls.Count} TLS Secret(s), {Htpasswd.Count} htpasswd Secret(s))";
}

/// <summary>What a config source reports: a new desired state for this node, or why it has none to give.</summary>
public abstract record NodeConfigEvent(string Reason)
{
    /// <summary>The NodeHaConfig's metadata.generation this event comes from (Kubernetes mode); the node's status reports
    /// it as observedGeneration once the event is handled, not when it arrives.</summary>
    public long? Generation { get; init; }
}

/// <summary>This node's desired state; <paramref name="Reason"/> says what changed ("site.yaml changed", "SIGHUP").</summary>
public sealed record NodeConfigUpdate(NodeHaConfig Config, NodeSecrets Secrets, string Reason) : NodeConfigEvent(Reason)
{
    /// <summary>Run by the node reconciler once this config is in force (nginx accepted it); not for a rejected one. The
    /// Kubernetes source keeps it on disk here, for a restart while the API server is away.</summary>
    public Action? Applied { get; init; }
}

/// <summary>The source's input is invalid: every problem as a complete log line. What runs keeps running.</summary>
public sealed record NodeConfigRejected(IReadOnlyList<string> Problems, string Reason) : NodeConfigEvent(Reason);

/// <summary>
/// Where a node's desired state comes from: manifest files (standalone mode, <see cref="FileConfigSource"/>) or the
/// node's NodeHaConfig object (Kubernetes mode). A source only reads and resolves; the node reconciler applies.
/// </summary>
public interface INodeConfigSource
{
    /// <summary>
    /// The current state first, then one event per change, until <paramref name="cancellationToken"/> fires.
    /// Warnings the source finds go to its log; problems come as <see cref="NodeConfigRejected"/>.
    /// </summary>
    IAsyncEnumerable<NodeConfigEvent> WatchAsync(CancellationToken cancellationToken);
}
