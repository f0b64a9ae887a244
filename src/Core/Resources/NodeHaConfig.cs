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
[Description("The desired state of one node, written by the operator and applied by that node's agent: its VRRP instances and nginx pools. Cluster-scoped; its name is the node name.")]
[PrinterColumn("Instances", ".spec.vrrpInstances[*].name", Priority = 1, Description = "The node's VRRP instances, namespace/group/index.")]
[PrinterColumn("Masters", ".status.instances[?(@.state==\"Master\")].name", Description = "The instances this node is VRRP master of.")]
[PrinterColumn("Nginx", ".status.nginx.state")]
[PrinterColumn("Config", ".status.nginx.configHash", Priority = 1, Description = "The nginx.conf in force (hash): nodes serving the same pools show the same value.")]
[PrinterColumn("Age", ".metadata.creationTimestamp", "date")]
[CelRule("self.spec.nodeName == self.metadata.name", "must equal metadata.name", FieldPath = ".spec.nodeName")]
[RootCelRulesOnly]
public sealed class NodeHaConfig : Resource, IValidatable
{
    public const string KindName = "NodeHaConfig";

    public NodeHaConfig()
    {
        ApiVersion = ApiGroup.ApiVersion;
        Kind = KindName;
    }

    [Description("What the node's agent runs.")]
    [Required]
    public NodeHaConfigSpec Spec { get; set; } = new();

    [StatusSubresource, Description("Written by the node's agent: each instance's VRRP state, and nginx.")]
    public NodeHaConfigStatus? Status { get; set; }

    public IEnumerable<(string Path, string Message)> Validate() => NodeHaConfigValidator.Validate(this);
}

public sealed class NodeHaConfigSpec
{
    [Description("The node this config is for; equals metadata.name.")]
    [Required, StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)] public string NodeName { get; set; } = "";

    [Description("The VRRP instances this node takes part in.")]
    [MaxItems(256)]
    public List<VrrpInstanceConfig> VrrpInstances { get; set; } = new();

    [Description("The nginx pools this node serves.")]
    [MaxItems(64)]
    public List<BackendPoolConfig> BackendPools { get; set; } = new();
}

/// <summary>One VRRP instance as this node runs it (a keepalived vrrp_instance).</summary>
[VrrpRules.Settings]
[CelRule("self.virtualIPs.all(v, v.contains(':') == self.virtualIPs[0].contains(':'))",
    "an instance carries one address family", FieldPath = ".virtualIPs")]
[CelRule("self.version != 2 || self.virtualIPs.all(v, !v.contains(':'))",
    "IPv6 is not supported by VRRP version 2 (RFC 3768); use version 3", FieldPath = ".virtualIPs")]
public sealed class VrrpInstanceConfig
{
    [Description("Unique within the node, \"namespace/group/index\", e.g. edge/web/0.")]
    [Required, StringLength(512)] public string Name { get; set; } = "";

    [Description("The VirtualIpGroup this instance comes from, \"namespace/name\".")]
    [StringLength(317), Pattern(SchemaPatterns.NamespacedName)]
    public string Group { get; set; } = "";

    [Description("Interface to bind the VIPs on; empty: the interface that routes to the VIPs.")]
    [StringLength(15, MinimumLength = 1), Pattern(@"^[^/:\s]+$")]
    public string? Interface { get; set; }

    [Description("3 (RFC 5798) or 2 (RFC 3768).")]
    [Range(2, 3)] public int Version { get; set; } = VrrpSettings.DefaultVersion;

    [Description("VRID, 1..255.")]
    [Required, Range(1, 255)] public int VirtualRouterId { get; set; }

    [Description("1..254 for this node (255 is reserved for the address owner).")]
    [Required, Range(1, 255)] public int Priority { get; set; }

    [Description("Duration: whole seconds for version 2, multiples of 10ms for version 3.")]
    [Pattern(SchemaPatterns.Duration), StringLength(32)]
    public string AdvertisementInterval { get; set; } = VrrpSettings.DefaultAdvertisementInterval;

    [Description("A higher-priority backup takes over from a lower-priority master.")]
    public bool Preempt { get; set; } = true;

    [Description("Wait this long after start before preempting (at most 1000s).")]
    [Pattern(SchemaPatterns.Duration), StringLength(32)]
    public string PreemptDelay { get; set; } = VrrpSettings.DefaultPreemptDelay;

    [Description("Addresses with prefix length, all of one family.")]
    [Required, MinItems(1), MaxItems(VirtualIpGroupSpec.MaxVirtualIPs), ItemMaxLength(49), Pattern(SchemaPatterns.AddressWithPrefix)]
    [CelRule(VirtualIpGroupSpec.VirtualIpRule, VirtualIpGroupSpec.VirtualIpMessage, Target = CelTarget.Items)]
    [CelRule(VirtualIpGroupSpec.MulticastRule, VirtualIpGroupSpec.MulticastMessage, Target = CelTarget.Items)]
    public List<string> VirtualIPs { get; set; } = new();

    [Description("When non-empty, adverts go by unicast to these addresses instead of multicast.")]
    [MaxItems(64), ItemMaxLength(45), Pattern(SchemaPatterns.Address)]
    public List<string> UnicastPeers { get; set; } = new();

    [Description("Secret key holding the VRRP version 2 password.")]
    public NamespacedSecretKeySelector? AuthSecretRef { get; set; }

    [Description("Standalone: absolute path of a file holding the password.")]
    [Pattern("^/"), StringLength(4096)]
    public string? AuthPasswordFile { get; set; }
}

/// <summary>A Secret key named with its namespace, for cluster-scoped objects.</summary>
public sealed class NamespacedSecretKeySelector
{
    [Required, StringLength(63), Pattern(SchemaPatterns.DnsLabel)] public string Namespace { get; set; } = "";
    [Required, StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)] public string Name { get; set; } = "";
    [Required, StringLength(253), Pattern(SchemaPatterns.SecretKey)] public string Key { get; set; } = "";
}

public sealed class BackendPoolConfig
{
    [Description("\"namespace/name\" of the NginxBackendPool.")]
    [Required, StringLength(317), Pattern(SchemaPatterns.NamespacedName)] public string Name { get; set; } = "";

    [Description("The pool's spec as the node serves it.")]
    public NginxBackendPoolSpec Spec { get; set; } = new();
}

public sealed class NodeHaConfigStatus
{
    /// <summary>255 VRIDs per family: one entry per VRID and family on each of a few interfaces at most.</summary>
    public const int MaxHeardRoutersPerFamily = 255;

    public List<VrrpInstanceStatus> Instances { get; set; } = new();
    public NginxStatus? Nginx { get; set; }
    public long? ObservedGeneration { get; set; }

    [Description("The virtual routers this node's agent hears on the wire, any VRID, its own peers included (at most 255 per family; " +
                 "one not heard for a minute is left out). The operator's VRID allocation avoids foreign ones.")]
    [MaxItems(2 * MaxHeardRoutersPerFamily)]
    public List<HeardRouterStatus> HeardRouters { get; set; } = new();
}

/// <summary>VRRP authentication types (RFC 2338 section 5.3.6; RFC 3768 keeps 0 and 1 in use).</summary>
public enum VrrpAuthenticationType { None, SimpleText, IpAuthenticationHeader }

/// <summary>A virtual router's sender as heard in its latest decoded advert. Never its password.</summary>
public sealed class HeardRouterStatus
{
    [Description("The interface it was heard on.")]
    [StringLength(15, MinimumLength = 1)]
    public string? Interface { get; set; }

    [Description("The address its adverts come from.")]
    [StringLength(45), Pattern(SchemaPatterns.Address)]
    public string? Source { get; set; }

    [Description("IPv4 or IPv6.")]
    [Required, Pattern("^IPv[46]$")]
    public string Family { get; set; } = "IPv4";

    [Required, Range(1, 255)] public int VirtualRouterId { get; set; }

    [Description("VRRP version of its adverts, 2 or 3.")]
    [Range(2, 3)] public int Version { get; set; } = 3;

    [Description("The addresses its adverts carry (without prefix).")]
    [MaxItems(255), ItemMaxLength(45), Pattern(SchemaPatterns.Address)]
    public List<string> Addresses { get; set; } = new();

    [Description("The priority of its latest advert (0: its master is leaving).")]
    [Range(0, 255)] public int Priority { get; set; }

    [Description("The authentication type its adverts carry (version 2).")]
    public VrrpAuthenticationType AuthType { get; set; }

    [Description("When its latest advert arrived, as of the agent's latest status write.")]
    public DateTimeOffset? LastHeard { get; set; }
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

    [Description("The nginx.conf in force: the first 12 hex digits of its SHA-256 (the hash label of nginx_ha_nginx_config_info). " +
                 "Nodes serving the same pools show the same value.")]
    [StringLength(64)] public string? ConfigHash { get; set; }
}
