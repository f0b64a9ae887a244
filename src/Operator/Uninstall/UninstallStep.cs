using System.Collections.Immutable;

namespace NginxHa.Operator.Uninstall;

/// <summary>A VirtualIpGroup as the uninstall sees it: "namespace/name", whether it is being deleted, its finalizers.</summary>
public sealed record GroupView(string Key, bool Deleting, IReadOnlyList<string> Finalizers)
{
    public string Namespace => Key[..Key.IndexOf('/', StringComparison.Ordinal)];
    public string Name => Key[(Key.IndexOf('/', StringComparison.Ordinal) + 1)..];
}

/// <summary>A NodeHaConfig: its node, whether it is being deleted, and the groups ("namespace/name") whose VIPs it still
/// carries in its spec or its agent still reports (what the operator's finalizer waits for).</summary>
public sealed record ConfigView(string Node, bool Deleting, IReadOnlyList<string> GroupsHeld);

/// <summary>One read of the cluster: the groups listed first, then the configs (so a config read here is never older than
/// the group list).</summary>
public sealed record UninstallSnapshot(IReadOnlyList<GroupView> Groups, IReadOnlyList<ConfigView> Configs);

public abstract record UninstallAction
{
    public sealed record DeleteGroup(string Namespace, string Name) : UninstallAction;
    public sealed record DeleteConfig(string Node) : UninstallAction;
}

public enum UninstallOutcome { Continue, Done, Failed }

/// <summary>What the uninstall remembers between reads.</summary>
public sealed record UninstallState(DateTimeOffset Started, TimeSpan Timeout)
{
    /// <summary>Groups seen in an earlier read: one missing now has been let go by the operator.</summary>
    public ImmutableHashSet<string> Seen { get; init; } = ImmutableHashSet.Create<string>(StringComparer.Ordinal);

    /// <summary>Groups let go while a node still held their VIPs (the operator's release timeout, or a finalizer removed by hand).</summary>
    public ImmutableList<string> Stranded { get; init; } = [];

    public string? LastWaiting { get; init; }

    public static UninstallState Start(DateTimeOffset now, TimeSpan timeout) => new(now, timeout);
}

public sealed record UninstallStepResult(UninstallState State, IReadOnlyList<UninstallAction> Actions, IReadOnlyList<string> Lines,
    UninstallOutcome Outcome, string? Failure = null);

/// <summary>
/// <c>nginx-ha-operator uninstall</c> as a pure step over one read of the cluster: delete every VirtualIpGroup, wait until the
/// running operator's finalizer has let each go (its agents report the VIPs released), then delete the NodeHaConfigs left.
/// Done when neither kind is left; failed at the timeout, or when a group went while a node still held its VIPs.
/// </summary>
public static class UninstallStep
{
    public static UninstallStepResult Next(UninstallState state, UninstallSnapshot snapshot, DateTimeOffset now)
    {
        var actions = new List<UninstallAction>();
        var lines = new List<string>();
        var present = snapshot.Groups.Select(g => g.Key).ToHashSet(StringComparer.Ordinal);

        // A group gone while a config still holds it was not released by the agents.
        var stranded = state.Stranded;
        foreach (var gone in state.Seen.Where(k => !present.Contains(k)).Order(StringComparer.Ordinal))
        {
            var holders = Holders(gone, snapshot.Configs);
            if (holders.Count == 0)
                lines.Add($"VirtualIpGroup {gone}: gone, its virtual IPs released by every node");
            else
            {
                var note = $"VirtualIpGroup {gone} went while node(s) {string.Join(", ", holders)} still held its virtual IPs " +
                           "(the operator's --release-timeout passed, or its finalizer was removed by hand)";
                lines.Add($"warning: {note}");
                stranded = stranded.Add(note);
            }
        }
        var seen = state.Seen.Intersect(present).Union(present);

        foreach (var group in snapshot.Groups.Where(g => !g.Deleting).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            actions.Add(new UninstallAction.DeleteGroup(group.Namespace, group.Name));
            lines.Add($"VirtualIpGroup {group.Key}: deleting");
        }

        var next = state with { Seen = seen, Stranded = stranded };
        var elapsed = now - state.Started;
        if (snapshot.Groups.Count > 0)
        {
            var waiting = Waiting(snapshot);
            if (elapsed >= state.Timeout)
                return new(next, actions, lines, UninstallOutcome.Failed,
                    $"timed out after {state.Timeout.TotalSeconds:0} s: {waiting}. The operator lets a group go once every agent reports its " +
                    "virtual IPs released: check that the operator and the agents run (kubectl get pods), then run helm uninstall again");
            if (waiting != state.LastWaiting) lines.Add($"waiting: {waiting}");
            return new(next with { LastWaiting = waiting }, actions, lines, UninstallOutcome.Continue);
        }

        var configs = snapshot.Configs.Where(c => !c.Deleting).OrderBy(c => c.Node, StringComparer.Ordinal).ToList();
        foreach (var config in configs)
        {
            actions.Add(new UninstallAction.DeleteConfig(config.Node));
            lines.Add($"NodeHaConfig {config.Node}: deleting");
        }
        if (snapshot.Configs.Count > 0)
        {
            if (elapsed >= state.Timeout)
                return new(next, actions, lines, UninstallOutcome.Failed,
                    $"timed out after {state.Timeout.TotalSeconds:0} s: NodeHaConfig(s) {string.Join(", ", snapshot.Configs.Select(c => c.Node))} still present");
            return new(next, actions, lines, UninstallOutcome.Continue);
        }

        if (stranded.Count > 0)
            return new(next, actions, lines, UninstallOutcome.Failed,
                $"{string.Join("; ", stranded)}: those nodes may still hold the virtual IPs (check ip addr there)");
        lines.Add("done: no VirtualIpGroup and no NodeHaConfig left");
        return new(next, actions, lines, UninstallOutcome.Done);
    }

    static List<string> Holders(string group, IReadOnlyList<ConfigView> configs) =>
        configs.Where(c => c.GroupsHeld.Contains(group, StringComparer.Ordinal)).Select(c => c.Node).Order(StringComparer.Ordinal).ToList();

    /// <summary>What each remaining group waits for, e.g. "edge/web: node(s) lb1, lb2 still hold its virtual IPs".</summary>
    static string Waiting(UninstallSnapshot snapshot) => string.Join("; ", snapshot.Groups.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
    {
        var holders = Holders(g.Key, snapshot.Configs);
        var others = g.Finalizers.Where(f => f != Reconcilers.Kinds.VipsFinalizer).ToList();
        var why = new List<string>();
        if (holders.Count > 0) why.Add($"node(s) {string.Join(", ", holders)} still hold its virtual IPs");
        if (others.Count > 0) why.Add($"finalizer(s) {string.Join(", ", others)} of others");
        if (why.Count == 0) why.Add(g.Finalizers.Count > 0 ? "the operator has not removed its finalizer yet" : "being deleted");
        return $"VirtualIpGroup {g.Key}: {string.Join(", ", why)}";
    }));
}
