using NginxHa.Core.Resources;

namespace NginxHa.Core.Planning;

/// <summary>
/// Everything the planner looks at. <see cref="PreviousAllocations"/> makes the result sticky: pass the
/// allocations of the last plan (or <see cref="VrrpAllocation.FromNodeHaConfigs"/> of the configs in force)
/// so VRIDs are not renumbered and masters do not move needlessly. Standalone agents plan independently on
/// every node: they pass only the VRIDs of their own last plan (<see cref="VrrpAllocation.VirtualRouterIdsOnly"/>),
/// never a preferred master, so two nodes still agree on priorities. <see cref="HeardRouters"/> are the virtual
/// routers heard on the wire: automatic VRIDs avoid foreign ones and adopt the one carrying an instance's own VIPs.
/// </summary>
public sealed record PlanInput(
    IReadOnlyList<VirtualIpGroup> Groups,
    IReadOnlyList<NginxBackendPool> Pools,
    IReadOnlyList<Node> Nodes,
    IReadOnlyList<VrrpAllocation>? PreviousAllocations = null,
    IReadOnlyList<HeardVirtualRouter>? HeardRouters = null);

/// <summary>
/// A virtual router heard on the wire: its VRID, address family ("IPv4" or "IPv6") and the addresses (without
/// prefix) its adverts carry. From the agent's sockets, or from NodeHaConfig status in the operator. When known,
/// <paramref name="Version"/> and <paramref name="AuthType"/> must match too for it to be one of ours;
/// <paramref name="Interface"/> is where, <paramref name="Node"/> who heard it and <paramref name="Source"/> who sent
/// it (named in a conflict's message).
/// </summary>
public sealed record HeardVirtualRouter(string Family, int VirtualRouterId, IReadOnlyList<string> Addresses,
    int? Version = null, VrrpAuthenticationType? AuthType = null, string? Interface = null, string? Node = null, string? Source = null);

/// <summary>
/// The sticky facts of one VRRP instance: its VRID and preferred master. <see cref="VirtualIp"/> is the
/// address (without prefix) for an instance carrying one VIP, null for an ActivePassive instance with several.
/// </summary>
public sealed record VrrpAllocation(string Group, string? VirtualIp, int VirtualRouterId, string PreferredNode)
{
    /// <summary>
    /// The VRIDs alone: no preferred master (an empty name matches no node). A standalone agent feeds its own last
    /// plan back this way, so VRIDs never renumber while master choice stays a function of the files alone.
    /// </summary>
    public static IReadOnlyList<VrrpAllocation> VirtualRouterIdsOnly(IEnumerable<VrrpAllocation> allocations) =>
        allocations.Select(a => a with { PreferredNode = "" }).ToList();

    /// <summary>Recovers allocations from the configs in force: the node with the highest priority is the preferred master.</summary>
    public static IReadOnlyList<VrrpAllocation> FromNodeHaConfigs(IEnumerable<NodeHaConfig> configs) =>
        configs
            .SelectMany(config => config.Spec.VrrpInstances.Select(instance => (Node: config.Spec.NodeName, Instance: instance)))
            .Where(entry => entry.Instance.Group.Length > 0)
            .GroupBy(entry => (entry.Instance.Group, entry.Instance.Name))
            .Select(instance =>
            {
                var preferred = instance.OrderByDescending(e => e.Instance.Priority).ThenBy(e => e.Node, StringComparer.Ordinal).First();
                var vips = preferred.Instance.VirtualIPs;
                string? address = vips.Count == 1 && Resources.VirtualIp.TryParse(vips[0], out var vip, out _) ? vip.Address.ToString() : null;
                return new VrrpAllocation(instance.Key.Group, address, preferred.Instance.VirtualRouterId, preferred.Node);
            })
            .OrderBy(a => a.Group, StringComparer.Ordinal).ThenBy(a => a.VirtualIp, StringComparer.Ordinal)
            .ToList();
}
