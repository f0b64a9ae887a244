namespace NginxHa.Core.Resources;

/// <summary>
/// The subset of a core/v1 Node the planner needs: name, labels (for nodeSelector) and addresses
/// (for unicast peers). In standalone mode these are written by hand in the manifests.
/// </summary>
public sealed class Node : Resource, IValidatable
{
    public const string KindName = "Node";
    public const string CoreApiVersion = "v1";

    public Node()
    {
        ApiVersion = CoreApiVersion;
        Kind = KindName;
    }

    public NodeStatus Status { get; set; } = new();

    /// <summary>The node's addresses of type InternalIP, in the order given.</summary>
    public IEnumerable<string> InternalIPs =>
        Status.Addresses.Where(a => a.Type == NodeAddressTypes.InternalIP).Select(a => a.Address);

    public IEnumerable<(string Path, string Message)> Validate() => Validation.NodeValidator.Validate(this);
}

public sealed class NodeStatus
{
    public List<NodeAddress> Addresses { get; set; } = new();
}

public sealed class NodeAddress
{
    public string Type { get; set; } = "";
    public string Address { get; set; } = "";
}

public static class NodeAddressTypes
{
    public const string InternalIP = "InternalIP";
    public const string ExternalIP = "ExternalIP";
    public const string Hostname = "Hostname";
    public const string InternalDNS = "InternalDNS";
    public const string ExternalDNS = "ExternalDNS";

    public static readonly IReadOnlyList<string> All = [InternalIP, ExternalIP, Hostname, InternalDNS, ExternalDNS];
}
