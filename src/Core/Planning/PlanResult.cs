using NginxHa.Core.Resources;

namespace NginxHa.Core.Planning;

public sealed record PlanResult(
    IReadOnlyList<NodeHaConfig> NodeConfigs,
    IReadOnlyList<GroupPlan> Groups,
    IReadOnlyList<VrrpAllocation> Allocations,
    IReadOnlyList<ValidationError> Errors,
    IReadOnlyList<ValidationError> Warnings)
{
    /// <summary>What the next <see cref="Planner.Plan(PlanInput, PlanResult)"/> may reuse; never part of the result's meaning.</summary>
    internal Planner.PlanMemo? Memo { get; init; }

    /// <summary>The config of a node of the input; every input node has one (possibly empty: release everything).</summary>
    public NodeHaConfig ConfigFor(string nodeName) =>
        NodeConfigs.FirstOrDefault(c => c.Spec.NodeName == nodeName)
        ?? throw new KeyNotFoundException($"node {nodeName} was not in the plan input");

    /// <summary>The plan of a group by "namespace/name".</summary>
    public GroupPlan GroupFor(string group) =>
        Groups.FirstOrDefault(g => g.Group == group) ?? throw new KeyNotFoundException($"group {group} was not in the plan input");
}

/// <summary>
/// What the planner decided for one VirtualIpGroup; the operator copies the conditions into its status.
/// <paramref name="InstancesHeardFromOthers"/>: its instances whose VRID is heard on the wire from a router that is not
/// theirs (a VirtualRouterIdHeard conflict), for the operator's metric.
/// </summary>
public sealed record GroupPlan(string Group, IReadOnlyList<PlannedInstance> Instances, IReadOnlyList<Condition> Conditions,
    int InstancesHeardFromOthers = 0)
{
    public Condition Condition(string type) => Conditions.First(c => c.Type == type);
}

/// <summary>One VRRP instance: <see cref="Nodes"/> in priority order, the first is the preferred master.</summary>
public sealed record PlannedInstance(
    string Name,
    string Group,
    int VirtualRouterId,
    IReadOnlyList<string> VirtualIPs,
    IReadOnlyList<string> Nodes)
{
    public string PreferredMaster => Nodes[0];
    public int PriorityOf(string node)
    {
        var position = Nodes.ToList().IndexOf(node);
        return position >= 0 ? Planner.PriorityAt(position) : throw new ArgumentException($"node {node} does not carry {Name}", nameof(node));
    }
}
