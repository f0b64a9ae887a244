using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>Pure: the news in a VirtualIpGroup's new status that deserves an Event beyond its conditions' flips.</summary>
public static class GroupEvents
{
    public const string MasterChanged = "MasterChanged";
    public const string NginxConfigRejected = "NginxConfigRejected";
    public const string WaitingForRelease = "WaitingForRelease";
    public const string ReleaseAssumed = "ReleaseAssumed";
    const int MaxErrorLength = 300;

    /// <summary>
    /// One note per VIP with a new master transition (the status counts master changes, not the first election), e.g.
    /// "198.18.0.201: MASTER is now lb2 (was lb1)". Counted, not compared: a failover often passes through a status with
    /// no master (the old master's report arrives first), which the previous status alone would hide.
    /// </summary>
    public static IReadOnlyList<string> MasterChanges(VirtualIpGroupStatus? before, VirtualIpGroupStatus after) =>
        after.VirtualIPs
            .Select(v => (Now: v, Before: before?.VirtualIPs.FirstOrDefault(b => b.Address == v.Address)))
            .Where(v => v.Now.MasterNode is not null && v.Before is not null && v.Now.Transitions > v.Before.Transitions)
            .Select(v => $"{v.Now.Address}: MASTER is now {v.Now.MasterNode}" + (v.Before!.MasterNode is { } was && was != v.Now.MasterNode ? $" (was {was})" : ""))
            .ToList();

    /// <summary>The group's nodes whose nginx refused the config they were given, with the error; null when none did.</summary>
    public static string? NginxRejections(GroupPlan plan, IEnumerable<NodeReport> reports)
    {
        var nodes = plan.Instances.SelectMany(i => i.Nodes).ToHashSet(StringComparer.Ordinal);
        var rejected = reports
            .Where(r => nodes.Contains(r.Node) && r.Status?.Nginx is { } n && (n.State == NginxState.Failed || !string.IsNullOrEmpty(n.LastError)))
            .OrderBy(r => r.Node, StringComparer.Ordinal)
            .Select(r => $"{r.Node}: {Shorten(r.Status!.Nginx!.LastError ?? "nginx failed")}")
            .ToList();
        return rejected.Count == 0 ? null : $"nginx refused the config on {string.Join("; ", rejected)}";
    }

    static string Shorten(string error) => error.Length <= MaxErrorLength ? error : error[..MaxErrorLength] + "...";
}
