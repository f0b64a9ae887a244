using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// Pure: which groups and pools a new plan changed for their status. A group's status reads its own plan (instances and
/// conditions); a pool's the nodes whose config carries it. Everything else they read (spec, reports, Secrets, endpoints,
/// node readiness) queues their keys from the informer that saw it change, so a plan need not queue all 1,000 of them.
/// </summary>
public static class StatusKeys
{
    /// <param name="previous">The last plan, or null: everything counts as changed.</param>
    public static (IReadOnlyList<string> Groups, IReadOnlyList<string> Pools) Changed(PlanResult? previous, PlanResult current)
    {
        var before = previous?.Groups.ToDictionary(g => g.Group, StringComparer.Ordinal);
        var groups = current.Groups.Where(g => before is null || !before.Remove(g.Group, out var old) || !SamePlan(old, g))
            .Select(g => g.Group).ToList();
        if (before is not null) groups.AddRange(before.Keys); // gone from the plan (being deleted)

        var poolsBefore = previous is null ? null : PoolNodes(previous);
        var pools = PoolNodes(current).Where(p => poolsBefore is null || !poolsBefore.Remove(p.Key, out var old) || !old.SequenceEqual(p.Value))
            .Select(p => p.Key).ToList();
        if (poolsBefore is not null) pools.AddRange(poolsBefore.Keys); // no node carries them any more
        return (groups, pools);
    }

    private static Dictionary<string, List<string>> PoolNodes(PlanResult plan)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var config in plan.NodeConfigs) // in node order: the lists compare as sequences
            foreach (var pool in config.Spec.BackendPools)
            {
                if (!result.TryGetValue(pool.Name, out var nodes)) result[pool.Name] = nodes = new();
                nodes.Add(config.Spec.NodeName);
            }
        return result;
    }

    public static bool SamePlan(GroupPlan a, GroupPlan b) =>
        a.Instances.Count == b.Instances.Count
        && a.Instances.Zip(b.Instances).All(p => p.First.Name == p.Second.Name && p.First.VirtualRouterId == p.Second.VirtualRouterId
            && p.First.VirtualIPs.SequenceEqual(p.Second.VirtualIPs) && p.First.Nodes.SequenceEqual(p.Second.Nodes))
        && a.Conditions.Count == b.Conditions.Count
        && a.Conditions.Zip(b.Conditions).All(p => SameCondition(p.First, p.Second));

    private static bool SameCondition(Condition a, Condition b) =>
        a.Type == b.Type && a.Status == b.Status && a.Reason == b.Reason && a.Message == b.Message;
}
