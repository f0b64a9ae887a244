using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using NginxHa.Core.Resources.Schema;
using NginxHa.Core.Resources.Validation;

namespace NginxHa.Core.Resources;

/// <summary>
/// The desired state of one node, written by the operator (or computed in-process in standalone mode)
/// and applied by that node's agent. Cluster-scoped; its name is the node name.
/// </summary>
[KubernetesEntity(KindName, "nodehaconfigs", Scope = EntityScope.Cluster, ShortNames = ["nhc"])]
[PrinterColumn("Instances", ".spec.vrrpInstances[*].name")]
[PrinterColumn("Nginx", ".status.nginx.state")]
[PrinterColumn("Age", ".metadata.creationTimestamp", "date")]
public sealed class NodeHaConfig : Resource, IValidatable
{
    public const string KindName = "NodeHaConfig";

    public NodeHaConfig()
    {
        ApiVersion = ApiGroup.ApiVersion;
        Kind = KindName;
    }

    public NodeHaConfigSpec Spec { get; set; } = new();

    [StatusSubresource]
    public NodeHaConfigStatus? Status { get; set; }

    public IEnumerable<(string Path, string Message)> Validate() => NodeHaConfigValidator.Validate(this);
}

public sealed class NodeHaConfigSpec
{
    [Required] public string NodeName { get; set; } = "";
    public List<VrrpInstanceConfig> VrrpInstances { get; set; } = new();
    public List<BackendPoolConfig> BackendPools { get; set; } = new();
}

/// <summary>One VRRP instance as this node runs it (a keepalived vrrp_instance).</summary>
public sealed class VrrpInstanceConfig
{
    [Description("Unique within the node, \"namespace/group/index\", e.g. edge/web/0.")]
    [Required] public string Name { get; set; } = "";

    [Description("The VirtualIpGroup this instance comes from, \"namespace/name\".")]
    public string Group { get; set; } = "";

    [Description("Interface to bind the VIPs on; empty: the interface that routes to the VIPs.")]
    public string? Interface { get; set; }

    [Range(2, 3)] public int Version { get; set; } = VrrpSettings.DefaultVersion;

    [Range(1, 255)] public int VirtualRouterId { get; set; }

    [Description("1..254 for this node (255 is reserved for the address owner).")]
    [Range(1, 255)] public int Priority { get; set; }

    public string AdvertisementInterval { get; set; } = VrrpSettings.DefaultAdvertisementInterval;
    public bool Preempt { get; set; } = true;
    public string PreemptDelay { get; set; } = VrrpSettings.DefaultPreemptDelay;

    [Description("Addresses with prefix length, all of one family.")]
    public List<string> VirtualIPs { get; set; } = new();

    [Description("When non-empty, adverts go by unicast to these addresses instead of multicast.")]
    public List<string> UnicastPeers { get; set; } = new();

    public NamespacedSecretKeySelector? AuthSecretRef { get; set; }
    public string? AuthPasswordFile { get; set; }
}

/// <summary>A Secret key named with its namespace, for cluster-scoped objects.</summary>
public sealed class NamespacedSecretKeySelector
{
    [Required] public string Namespace { get; set; } = "";
    [Required] public string Name { get; set; } = "";
    [Required] public string Key { get; set; } = "";
}

public sealed class BackendPoolConfig
{
    [Description("\"namespace/name\" of the NginxBackendPool.")]
    [Required] public string Name { get; set; } = "";
    public NginxBackendPoolSpec Spec { get; set; } = new();
}

public sealed class NodeHaConfigStatus
{
    public List<VrrpInstanceStatus> Instances { get; set; } = new();
    public NginxStatus? Nginx { get; set; }
    public long? ObservedGeneration { get; set; }
}

public enum VrrpInstanceState { Initialize, Backup, Master, Fault }

public sealed class VrrpInstanceStatus
{
    public string Name { get; set; } = "";
    public VrrpInstanceState State { get; set; } = VrrpInstanceState.Initialize;

    [Description("Address of the router currently MASTER (this node's own address when it is master).")]
    public string? Master { get; set; }

    public long Transitions { get; set; }
    public DateTimeOffset? LastTransitionTime { get; set; }
}

public enum NginxState { Unknown, Starting, Running, Failed, Stopped }

public sealed class NginxStatus
{
    public NginxState State { get; set; } = NginxState.Unknown;
    public DateTimeOffset? LastReload { get; set; }
    public string? LastError { get; set; }
}
