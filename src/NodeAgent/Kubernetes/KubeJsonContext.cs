using System.Text.Json.Serialization;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>
/// The agent's JSON with the API server, generated at compile time (NativeAOT, no reflection): NodeHaConfig as the
/// server sends it, its status as the agent patches it (enums by name, as the CRD's printer columns match them), and
/// the last applied config on disk.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NodeHaConfig))]
[JsonSerializable(typeof(StatusPatch))]
[JsonSerializable(typeof(LastAppliedConfig))]
internal sealed partial class KubeJsonContext : JsonSerializerContext;

/// <summary>The body of a merge patch on the status subresource.</summary>
internal sealed record StatusPatch(NodeHaConfigStatus Status);

/// <summary>What the agent last applied, kept on disk for a restart while the API server is away.</summary>
public sealed class LastAppliedConfig
{
    public long Generation { get; set; }
    public NodeHaConfig Config { get; set; } = new();

    /// <summary>VRRP passwords by instance name, base64. The file is mode 0600.</summary>
    public Dictionary<string, string> VrrpAuth { get; set; } = new();

    /// <summary>TLS Secrets by "namespace/name": certificate and key PEM, base64.</summary>
    public Dictionary<string, StoredTlsPair> Tls { get; set; } = new();

    /// <summary>Basic-auth Secrets by "namespace/name": the htpasswd file, base64.</summary>
    public Dictionary<string, string> Htpasswd { get; set; } = new();
}

public sealed class StoredTlsPair
{
    public string Certificate { get; set; } = "";
    public string PrivateKey { get; set; } = "";
}
