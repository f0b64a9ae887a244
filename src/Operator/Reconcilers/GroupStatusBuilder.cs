using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>Condition reasons of VirtualIpGroup status, beyond the planner's own.</summary>
public static class GroupReasons
{
    public const string NoMaster = "NoMaster";
    public const string MultipleMasters = "MultipleMasters";
    public const string NodeNotReporting = "NodeNotReporting";
    public const string NodeNotReady = "NodeNotReady";
    public const string VridConflict = "VridConflict";
    public const string VipConflict = "VipConflict";
    public const string SecretMissing = "SecretMissing";
    public const string PoolMissing = "PoolMissing";
    public const string MasterElected = "MasterElected";

    /// <summary>The planner's reasons under the names the status documents.</summary>
    public static string FromPlanner(string reason) => reason switch
    {
        "VirtualRouterIdConflict" => VridConflict,
        "VirtualRouterIdHeard" => VridConflict,
        "VirtualIpConflict" => VipConflict,
        "BackendPoolNotFound" => PoolMissing,
        _ => reason,
    };
}

/// <summary>What the agents report, as the status builder needs it. <paramref name="Heartbeat"/>: the agent's heartbeat
/// Lease as the operator saw it, null when the node has none (its report then counts as it is).</summary>
/// <param name="Applying">The config is newer than the agent's report, and only for a short while (the operator's grace
/// period): the agent is applying it, so its last report still stands rather than counting as no report.</param>
public sealed record NodeReport(string Node, bool Ready, NodeHaConfigSpec? Spec, long? Generation, NodeHaConfigStatus? Status,
    Heartbeat? Heartbeat = null, bool Applying = false)
{
    public bool Current => Status?.ObservedGeneration == Generation;
}

/// <summary>
/// Pure: the status of one VirtualIpGroup from its plan, the agents' reports on their NodeHaConfigs and the
/// previous status. Per VIP the MASTER node (the node reporting MASTER of the VIP's instance), the backups,
/// and the number of master changes seen; conditions Ready, Degraded and Conflict, each with observedGeneration
/// and a lastTransitionTime that moves only when the condition's status flips. A node whose heartbeat expired at
/// <c>now</c> (SIGKILLed agent, dead node) is not reporting: its last report, MASTER or not, no longer counts.
/// </summary>
public static class GroupStatusBuilder
{
    public static VirtualIpGroupStatus Build(VirtualIpGroupResource group, GroupPlan? plan, IReadOnlyList<NodeReport> reports,
        bool authSecretPresent, DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        var stamp = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, utc.Second, TimeSpan.Zero); // times in whole seconds
        var previous = group.Status ?? new VirtualIpGroupStatus();
        var generation = group.Metadata.Generation;
        var status = new VirtualIpGroupStatus { ObservedGeneration = generation };
        var byNode = reports.ToDictionary(r => r.Node, StringComparer.Ordinal);

        var noMaster = new List<string>();
        var multipleMasters = new List<string>();
        var notReporting = new SortedSet<string>(StringComparer.Ordinal);
        var notReady = new SortedSet<string>(StringComparer.Ordinal);
        var silent = new SortedDictionary<string, Heartbeat>(StringComparer.Ordinal);
        var awaited = new SortedSet<string>(StringComparer.Ordinal); // applying a config with an instance not reported yet

        foreach (var instance in plan?.Instances ?? [])
        {
            var masters = new List<string>();
            var backups = new List<string>();
            DateTimeOffset? masterSince = null;
            foreach (var node in instance.Nodes)
            {
                if (!byNode.TryGetValue(node, out var report))
                {
                    notReporting.Add(node);
                    continue;
                }
                if (!report.Ready) notReady.Add(node);
                if (report.Heartbeat is { } heartbeat && heartbeat.ExpiredAt(now))
                {
                    silent[node] = heartbeat;
                    continue;
                }
                var reported = report.Status?.Instances.FirstOrDefault(i => i.Name == instance.Name);
                // A report counts once the agent has applied the config we wrote (observedGeneration); while it applies it
                // (bounded), its previous report stands and a missing instance is not yet news: no Degraded flap per write.
                if (report.Applying && !report.Current && reported is null)
                {
                    awaited.Add(node);
                    continue;
                }
                if (reported is null || (!report.Current && !report.Applying))
                {
                    notReporting.Add(node);
                    continue;
                }
                switch (reported.State)
                {
                    case VrrpInstanceState.Master:
                        masters.Add(node);
                        masterSince = reported.LastTransitionTime;
                        break;
                    case VrrpInstanceState.Backup:
                        backups.Add(node);
                        break;
                }
            }
            if (masters.Count == 0) noMaster.Add(instance.Name);
            if (masters.Count > 1) multipleMasters.Add($"{instance.Name} ({string.Join(", ", masters.Order(StringComparer.Ordinal))})");

            var master = masters.Count == 1 ? masters[0] : null;
            foreach (var vip in instance.VirtualIPs)
            {
                var address = VirtualIp.TryParse(vip, out var parsed, out _) ? parsed.Address.ToString() : vip;
                var before = previous.VirtualIPs.FirstOrDefault(v => v.Address == address);
                var changed = master is not null && before?.MasterNode != master;
                status.VirtualIPs.Add(new VirtualIpStatus
                {
                    Address = address,
                    Vrid = instance.VirtualRouterId,
                    MasterNode = master,
                    BackupNodes = backups.Order(StringComparer.Ordinal).ToList(),
                    Transitions = (before?.Transitions ?? 0) + (changed && before?.LastTransitionTime is not null ? 1 : 0), // the first election is no transition
                    LastTransitionTime = changed ? masterSince ?? stamp : before?.LastTransitionTime,
                });
            }
        }

        status.Masters = status.VirtualIPs.Count > 0 ? string.Join(",", status.VirtualIPs.Select(v => v.MasterNode ?? "-")) : null;

        var planReady = plan?.Condition(ConditionTypes.Ready);
        Condition ready;
        if (plan is null)
            ready = New(ConditionTypes.Ready, false, "Deleting", "the group is being deleted: its virtual IPs are withdrawn");
        else if (planReady!.Status != ConditionStatus.True)
            ready = New(ConditionTypes.Ready, false, GroupReasons.FromPlanner(planReady.Reason), planReady.Message);
        else if (!authSecretPresent)
            ready = New(ConditionTypes.Ready, false, GroupReasons.SecretMissing,
                $"spec.vrrp.authSecretRef: Secret {group.Metadata.NamespaceProperty}/{group.Spec.Vrrp.AuthSecretRef?.Name} or its key {group.Spec.Vrrp.AuthSecretRef?.Key} not found");
        else if (multipleMasters.Count > 0)
            ready = New(ConditionTypes.Ready, false, GroupReasons.MultipleMasters, $"more than one node reports MASTER (split brain): {string.Join("; ", multipleMasters)}");
        else if (noMaster.Count > 0)
            ready = New(ConditionTypes.Ready, false, GroupReasons.NoMaster, $"no node reports MASTER of {string.Join(", ", noMaster)}");
        else
            ready = New(ConditionTypes.Ready, true, GroupReasons.MasterElected, $"every virtual IP has one MASTER ({status.VirtualIPs.Count} virtual IPs)");

        var degradations = new List<(string Reason, string Message)>();
        if (notReporting.Count > 0 || silent.Count > 0)
            degradations.Add((GroupReasons.NodeNotReporting, string.Join("; ", new[]
            {
                notReporting.Count > 0 ? $"no current status from node(s) {string.Join(", ", notReporting)}" : null,
                // No age in the text: the status would change on every reconcile.
                silent.Count > 0 ? "heartbeat expired, last report not counted: " + string.Join(", ",
                    silent.Select(s => $"{s.Key} (Lease {AgentLeases.LeaseName(s.Key)} not renewed within {s.Value.Duration.TotalSeconds:0} s)")) : null,
            }.OfType<string>())));
        if (notReady.Count > 0)
            degradations.Add((GroupReasons.NodeNotReady, $"node(s) {string.Join(", ", notReady)} not Ready"));
        var planDegraded = plan?.Condition(ConditionTypes.Degraded);
        if (planDegraded?.Status == ConditionStatus.True) degradations.Add((planDegraded.Reason, planDegraded.Message));
        // Nodes still applying hold the Degraded condition as it was (no flap per config write), but never make it
        // Redundant on their own: a group's first status with reports still awaited is NodeNotReporting.
        var previousDegraded = previous.Conditions.FirstOrDefault(c => c.Type == ConditionTypes.Degraded);
        var degraded = degradations.Count > 0
            ? New(ConditionTypes.Degraded, true, degradations[0].Reason, string.Join("; ", degradations.Select(d => d.Message)))
            : awaited.Count == 0
                ? New(ConditionTypes.Degraded, false, "Redundant", "every node reports and every instance has a backup")
                : previousDegraded is { Reason.Length: > 0 }
                    ? New(ConditionTypes.Degraded, previousDegraded.Status == ConditionStatus.True, previousDegraded.Reason, previousDegraded.Message ?? "")
                    : New(ConditionTypes.Degraded, true, GroupReasons.NodeNotReporting, $"no status yet from node(s) {string.Join(", ", awaited)} (applying its config)");

        var planConflict = plan?.Condition(ConditionTypes.Conflict);
        var conflict = planConflict is { Status: ConditionStatus.True }
            ? New(ConditionTypes.Conflict, true, GroupReasons.FromPlanner(planConflict.Reason), planConflict.Message)
            : New(ConditionTypes.Conflict, false, "NoConflict", "no other group claims these virtual IPs or VRIDs");

        foreach (var condition in new[] { ready, degraded, conflict })
        {
            condition.ObservedGeneration = generation;
            var before = previous.Conditions.FirstOrDefault(c => c.Type == condition.Type);
            condition.LastTransitionTime = before is not null && before.Status == condition.Status ? before.LastTransitionTime ?? stamp : stamp;
            status.Conditions.Add(condition);
        }
        return status;
    }

    private static Condition New(string type, bool value, string reason, string message) => new()
    {
        Type = type,
        Status = value ? ConditionStatus.True : ConditionStatus.False,
        Reason = reason,
        Message = message,
    };
}
