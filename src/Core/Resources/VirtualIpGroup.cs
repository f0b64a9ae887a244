using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using NginxHa.Core.Resources.Schema;
using NginxHa.Core.Resources.Validation;

namespace NginxHa.Core.Resources;

/// <summary>A set of virtual IPs kept alive by VRRP on the nodes a selector picks.</summary>
[KubernetesEntity(KindName, "virtualipgroups", ShortNames = ["vipg"])]
[PrinterColumn("Mode", ".spec.mode")]
[PrinterColumn("VIPs", ".spec.virtualIPs")]
[PrinterColumn("Master", ".status.virtualIPs[*].masterNode")]
[PrinterColumn("Age", ".metadata.creationTimestamp", "date")]
public sealed class VirtualIpGroup : Resource, IValidatable
{
    public const string KindName = "VirtualIpGroup";

    public VirtualIpGroup()
    {
        ApiVersion = ApiGroup.ApiVersion;
        Kind = KindName;
    }

    public VirtualIpGroupSpec Spec { get; set; } = new();

    [StatusSubresource]
    public VirtualIpGroupStatus? Status { get; set; }

    public IEnumerable<(string Path, string Message)> Validate() => VirtualIpGroupValidator.Validate(this);
}

public enum VirtualIpGroupMode
{
    /// <summary>One VRRP instance carries all VIPs; one node is MASTER, the others wait (seed 001).</summary>
    ActivePassive,
    /// <summary>One VRRP instance per VIP, masters spread over the nodes (seed 000, "dual master").</summary>
    ActiveActive,
}

public sealed class VirtualIpGroupSpec
{
    [Description("ActivePassive: one VRRP instance for all VIPs. ActiveActive: one instance per VIP, masters spread over the nodes.")]
    [DefaultValue(VirtualIpGroupMode.ActivePassive)]
    public VirtualIpGroupMode Mode { get; set; } = VirtualIpGroupMode.ActivePassive;

    [Description("IPv4 or IPv6 addresses, optionally with a prefix length (default /32 or /128).")]
    [Required, MinItems(1)]
    public List<string> VirtualIPs { get; set; } = new();

    [Description("Nodes that carry the VIPs. An empty selector selects every node.")]
    public LabelSelector NodeSelector { get; set; } = new();

    [Description("Interface the VIPs are bound on. Default: the interface that routes to the VIP.")]
    [StringLength(15)] // IFNAMSIZ - 1
    public string? Interface { get; set; }

    [Description("Virtual router IDs (1..255), one per VRRP instance. Allocated when omitted.")]
    public List<int>? VirtualRouterIds { get; set; }

    public VrrpSettings Vrrp { get; set; } = new();

    [Description("Name of an NginxBackendPool in the same namespace served on these VIPs.")]
    public string? BackendPoolRef { get; set; }
}

public sealed class LabelSelector
{
    public Dictionary<string, string> MatchLabels { get; set; } = new();

    public bool Matches(IReadOnlyDictionary<string, string> labels) =>
        MatchLabels.All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value);
}

public sealed class VrrpSettings
{
    public const int DefaultVersion = 3;
    public const string DefaultAdvertisementInterval = "1s";
    public const string DefaultPreemptDelay = "0s";

    [Description("3 (RFC 5798, IPv4 and IPv6) or 2 (RFC 3768, IPv4 only, needed for authentication).")]
    [Range(2, 3), DefaultValue(DefaultVersion)]
    public int Version { get; set; } = DefaultVersion;

    [Description("Duration such as 1s or 100ms: whole seconds for version 2, multiples of 10ms for version 3.")]
    [DefaultValue(DefaultAdvertisementInterval)]
    public string AdvertisementInterval { get; set; } = DefaultAdvertisementInterval;

    [Description("A higher-priority backup takes over from a lower-priority master.")]
    [DefaultValue(true)]
    public bool Preempt { get; set; } = true;

    [Description("Wait this long after start before preempting (duration, at most 1000s).")]
    [DefaultValue(DefaultPreemptDelay)]
    public string PreemptDelay { get; set; } = DefaultPreemptDelay;

    [Description("Secret key holding the simple-text password (VRRP version 2 only).")]
    public SecretKeySelector? AuthSecretRef { get; set; }

    [Description("Standalone alternative to authSecretRef: absolute path of a file holding the password.")]
    public string? AuthPasswordFile { get; set; }

    [Description("Send adverts by unicast to the other nodes' InternalIP addresses instead of multicast.")]
    [DefaultValue(false)]
    public bool Unicast { get; set; }
}

/// <summary>A key of a Secret in the referring object's namespace.</summary>
public sealed class SecretKeySelector
{
    [Required] public string Name { get; set; } = "";
    [Required] public string Key { get; set; } = "";
}

public sealed class VirtualIpGroupStatus
{
    public List<VirtualIpStatus> VirtualIPs { get; set; } = new();
    public List<Condition> Conditions { get; set; } = new();
    public long? ObservedGeneration { get; set; }
}

public sealed class VirtualIpStatus
{
    public string Address { get; set; } = "";
    public int? Vrid { get; set; }
    public string? MasterNode { get; set; }
    public List<string> BackupNodes { get; set; } = new();
    public long Transitions { get; set; }
    public DateTimeOffset? LastTransitionTime { get; set; }
}
