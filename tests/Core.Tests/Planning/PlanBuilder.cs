using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Core.Tests.Planning;

/// <summary>Small factories so each planner test states only what it varies.</summary>
internal static class PlanBuilder
{
    public static Node Node(string name, params string[] internalIPs)
    {
        var node = new Node { Metadata = new ObjectMeta { Name = name, Labels = { ["role"] = "edge" } } };
        node.Status.Addresses.AddRange(internalIPs.Select(ip => new NodeAddress { Type = NodeAddressTypes.InternalIP, Address = ip }));
        return node;
    }

    /// <summary>Nodes n1..nN (sorted by name as the planner sorts them) with addresses 198.18.0.N.</summary>
    public static List<Node> Nodes(int count) =>
        Enumerable.Range(1, count).Select(i => Node($"n{i}", $"198.18.0.{i}")).ToList();

    public static VirtualIpGroup Group(string name, VirtualIpGroupMode mode, params string[] vips)
    {
        var group = new VirtualIpGroup { Metadata = new ObjectMeta { Name = name, Namespace = "edge" } };
        group.Spec.Mode = mode;
        group.Spec.VirtualIPs.AddRange(vips);
        group.Spec.NodeSelector.MatchLabels["role"] = "edge";
        return group;
    }

    public static NginxBackendPool Pool(string name) =>
        new() { ApiVersion = ApiGroup.ApiVersion, Kind = "NginxBackendPool", Metadata = new ObjectMeta { Name = name, Namespace = "edge" } };

    public static PlanResult Plan(IEnumerable<VirtualIpGroup> groups, IEnumerable<Node> nodes,
        IEnumerable<NginxBackendPool>? pools = null, IReadOnlyList<VrrpAllocation>? previous = null) =>
        Planner.Plan(new PlanInput(groups.ToList(), (pools ?? []).ToList(), nodes.ToList(), previous));

    /// <summary>"n1,n2" — preferred master of each planned instance of the group, in instance order.</summary>
    public static string Masters(PlanResult result, string group) =>
        string.Join(",", result.GroupFor(group).Instances.Select(i => i.PreferredMaster));

    /// <summary>The hashed home VRIDs of these allocation keys ("edge/web" for ActivePassive, "edge/web|ADDRESS" per
    /// ActiveActive VIP), joined like <see cref="Vrids"/>; asserts they differ, so no probing is involved.</summary>
    public static string Homes(params string[] keys)
    {
        var homes = keys.Select(Planner.HomeVirtualRouterId).ToList();
        Assert.Equal(homes.Count, homes.Distinct().Count());
        return string.Join(",", homes);
    }

    /// <summary>The VRID after <paramref name="id"/> on a probe sequence (255 wraps to 1).</summary>
    public static int Next(int id, int steps = 1) => (id - 1 + steps) % 255 + 1;

    public static string Vrids(PlanResult result, string group) =>
        string.Join(",", result.GroupFor(group).Instances.Select(i => i.VirtualRouterId));
}
