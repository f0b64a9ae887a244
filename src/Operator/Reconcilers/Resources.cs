using k8s.Models;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

/// <summary>Our three kinds as the API server sends them (full metadata around the Core spec and status).</summary>
public sealed class VirtualIpGroupResource : CustomResource<VirtualIpGroupSpec, VirtualIpGroupStatus>;

public sealed class NginxBackendPoolResource : CustomResource<NginxBackendPoolSpec, NginxBackendPoolStatus>;

public sealed class NodeHaConfigResource : CustomResource<NodeHaConfigSpec, NodeHaConfigStatus>;

public static class Kinds
{
    public const string VirtualIpGroups = "virtualipgroups";
    public const string NginxBackendPools = "nginxbackendpools";
    public const string NodeHaConfigs = "nodehaconfigs";

    /// <summary>Held on every VirtualIpGroup until its VIPs have left every node.</summary>
    public const string VipsFinalizer = "nginx-ha.io/vips";

    public const string FieldManager = "nginx-ha-operator";

    public static EventSubject Subject(VirtualIpGroupResource group) =>
        new(ApiGroup.ApiVersion, VirtualIpGroup.KindName, group.Metadata.NamespaceProperty, group.Metadata.Name, group.Metadata.Uid);

    public static EventSubject Subject(NginxBackendPoolResource pool) =>
        new(ApiGroup.ApiVersion, "NginxBackendPool", pool.Metadata.NamespaceProperty, pool.Metadata.Name, pool.Metadata.Uid);

    /// <summary>"namespace/name", as the planner names groups and pools.</summary>
    public static string Key(V1ObjectMeta metadata) => $"{(string.IsNullOrEmpty(metadata.NamespaceProperty) ? "default" : metadata.NamespaceProperty)}/{metadata.Name}";
}
