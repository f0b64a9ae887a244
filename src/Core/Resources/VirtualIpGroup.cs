using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using NginxHa.Core.Resources.Schema;
using NginxHa.Core.Resources.Validation;

namespace NginxHa.Core.Resources;

/// <summary>A set of virtual IPs kept alive by VRRP on the nodes a selector picks.</summary>
[KubernetesEntity(KindName, "virtualipgroups", ShortNames = ["vipg"])]
[Description("A set of virtual IPs kept alive by VRRP (keepalived-compatible) on the nodes a selector picks, in front of an NginxBackendPool.")]
[PrinterColumn("Mode", ".spec.mode")]
[PrinterColumn("VIPs", ".spec.virtualIPs")]
// Not .status.virtualIPs[*].masterNode: a printer column shows only the first match of its JSONPath.
[PrinterColumn("Masters", ".status.masters", Description = "The VRRP master of each virtual IP, in the order of spec.virtualIPs (- for none).")]
[PrinterColumn("Ready", ".status.conditions[?(@.type==\"Ready\")].status")]
[PrinterColumn("Age", ".metadata.creationTimestamp", "date")]
public sealed class VirtualIpGroup : Resource, IValidatable
{
    public const string KindName = "VirtualIpGroup";

    public VirtualIpGroup()
    {
        ApiVersion = ApiGroup.ApiVersion;
        Kind = KindName;
    }

    [Description("What the group asks for.")]
    [Required]
    public VirtualIpGroupSpec Spec { get; set; } = new();

    [StatusSubresource, Description("Written by the operator: each virtual IP's master and backups, and conditions.")]
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

[CelRule(NoDuplicateAddresses, "lists the same address twice", FieldPath = ".virtualIPs")]
[CelRule("self.vrrp.version != 2 || self.virtualIPs.all(v, !v.contains(':'))",
    "IPv6 is not supported by VRRP version 2 (RFC 3768); use version 3", FieldPath = ".virtualIPs")]
[CelRule("self.mode != 'ActivePassive' || self.virtualIPs.all(v, v.contains(':') == self.virtualIPs[0].contains(':'))",
    "an ActivePassive group is one VRRP instance and an instance carries one address family (use one group per family, or ActiveActive)",
    FieldPath = ".virtualIPs")]
[CelRule("!has(self.virtualRouterIds) || size(self.virtualRouterIds) == 0 || size(self.virtualRouterIds) == (self.mode == 'ActivePassive' ? 1 : size(self.virtualIPs))",
    "must give one ID per VRRP instance: exactly one for ActivePassive, one per virtual IP for ActiveActive", FieldPath = ".virtualRouterIds")]
public sealed class VirtualIpGroupSpec
{
    /// <summary>The item rule for what the pattern cannot say: the address parses and is usable as a VIP.</summary>
    internal const string VirtualIpRule =
        "isIP(self.split('/')[0]) && !ip(self.split('/')[0]).isLoopback() && !ip(self.split('/')[0]).isUnspecified()";
    internal const string VirtualIpMessage = "is not a usable IP address (not loopback, not unspecified; IPv4-mapped IPv6 is refused)";

    internal const string MulticastRule = @"!self.matches(r'^(22[4-9]|23[0-9])\.') && !self.lowerAscii().startsWith('ff') && !self.startsWith('255.255.255.255')";
    internal const string MulticastMessage = "is a multicast or the broadcast address";


    /// <summary>Two entries with the same address (prefix aside); compared as IP addresses where they parse.</summary>
    const string NoDuplicateAddresses =
        "self.virtualIPs.all(v, self.virtualIPs.filter(w, w.split('/')[0] == v.split('/')[0] || "
        + "(isIP(w.split('/')[0]) && isIP(v.split('/')[0]) && ip(w.split('/')[0]) == ip(v.split('/')[0]))).size() == 1)";

    public const int MaxVirtualIPs = 64;

    [Description("ActivePassive: one VRRP instance for all VIPs. ActiveActive: one instance per VIP, masters spread over the nodes.")]
    [DefaultValue(VirtualIpGroupMode.ActivePassive)]
    public VirtualIpGroupMode Mode { get; set; } = VirtualIpGroupMode.ActivePassive;

    [Description("IPv4 or IPv6 addresses, optionally with a prefix length (default /32 or /128).")]
    [Required, MinItems(1), MaxItems(MaxVirtualIPs), ItemMaxLength(49), Pattern(SchemaPatterns.AddressWithPrefix)]
    [CelRule(VirtualIpRule, VirtualIpMessage, Target = CelTarget.Items)]
    [CelRule(MulticastRule, MulticastMessage, Target = CelTarget.Items)]
    public List<string> VirtualIPs { get; set; } = new();

    [Description("Nodes that carry the VIPs. An empty selector selects every node.")]
    public LabelSelector NodeSelector { get; set; } = new();

    [Description("Interface the VIPs are bound on. Default: the interface that routes to the VIP.")]
    [StringLength(15, MinimumLength = 1), Pattern(@"^[^/:\s]+$")] // IFNAMSIZ - 1
    public string? Interface { get; set; }

    [Description("Virtual router IDs (1..255), one per VRRP instance: one for ActivePassive, one per virtual IP for ActiveActive. Allocated when omitted.")]
    [Range(1, 255), ListSet, MaxItems(MaxVirtualIPs)]
    public List<int>? VirtualRouterIds { get; set; }

    [Description("VRRP protocol settings, the same on every node of the group.")]
    public VrrpSettings Vrrp { get; set; } = new();

    [Description("Name of an NginxBackendPool in the same namespace served on these VIPs.")]
    [StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)]
    public string? BackendPoolRef { get; set; }
}

public sealed class LabelSelector
{
    [Description("Labels a node must have, all of them.")]
    public Dictionary<string, string> MatchLabels { get; set; } = new();

    public bool Matches(IReadOnlyDictionary<string, string> labels) =>
        MatchLabels.All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value);
}

[VrrpRules.Settings]
public sealed class VrrpSettings
{
    public const int DefaultVersion = 3;
    public const string DefaultAdvertisementInterval = "1s";
    public const string DefaultPreemptDelay = "0s";

    [Description("3 (RFC 5798, IPv4 and IPv6) or 2 (RFC 3768, IPv4 only, needed for authentication).")]
    [Range(2, 3), DefaultValue(DefaultVersion)]
    public int Version { get; set; } = DefaultVersion;

    [Description("Duration such as 1s or 100ms: whole seconds for version 2, multiples of 10ms for version 3.")]
    [DefaultValue(DefaultAdvertisementInterval), Pattern(SchemaPatterns.Duration), StringLength(32)]
    public string AdvertisementInterval { get; set; } = DefaultAdvertisementInterval;

    [Description("A higher-priority backup takes over from a lower-priority master.")]
    [DefaultValue(true)]
    public bool Preempt { get; set; } = true;

    [Description("Wait this long after start before preempting (duration, at most 1000s).")]
    [DefaultValue(DefaultPreemptDelay), Pattern(SchemaPatterns.Duration), StringLength(32)]
    public string PreemptDelay { get; set; } = DefaultPreemptDelay;

    [Description("Secret key holding the simple-text password (VRRP version 2 only).")]
    public SecretKeySelector? AuthSecretRef { get; set; }

    [Description("Standalone alternative to authSecretRef: absolute path of a file holding the password.")]
    [Pattern("^/"), StringLength(4096)]
    public string? AuthPasswordFile { get; set; }

    [Description("Send adverts by unicast to the other nodes' InternalIP addresses instead of multicast.")]
    [DefaultValue(false)]
    public bool Unicast { get; set; }
}

/// <summary>A key of a Secret in the referring object's namespace.</summary>
public sealed class SecretKeySelector
{
    [Description("Name of the Secret.")]
    [Required, StringLength(253), Pattern(SchemaPatterns.DnsSubdomain)] public string Name { get; set; } = "";

    [Description("Key in the Secret's data.")]
    [Required, StringLength(253), Pattern(SchemaPatterns.SecretKey)] public string Key { get; set; } = "";
}

public sealed class VirtualIpGroupStatus
{
    public List<VirtualIpStatus> VirtualIPs { get; set; } = new();

    [Description("The master node of each virtual IP, comma-separated in the order of virtualIPs, - where none: the Masters column of kubectl get.")]
    public string? Masters { get; set; }

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
