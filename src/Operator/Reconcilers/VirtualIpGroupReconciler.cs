using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// One VirtualIpGroup: holds the <c>nginx-ha.io/vips</c> finalizer; writes the status (only when it differs)
/// and an Event when a condition flips; when the group is deleted, waits until no node's config or report
/// carries its VIPs any more (or <see cref="ReleaseTimeout"/> passes, with a Warning Event), then lets it go. A node whose
/// agent heartbeat has expired is not waited for (<see cref="ReleaseWait"/>; an Event names it).
/// </summary>
public sealed class VirtualIpGroupReconciler(IKubernetes client, EventRecorder events, OperatorLog log, TimeProvider time)
{
    public TimeSpan ReleaseTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan ReleasePoll { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Reads a node's heartbeat Lease again and says whether it is still expired: a deletion is not undone, so a Lease
    /// watch that stopped delivering must not count a live node as released. Null: the cached heartbeats are taken as they are.
    /// </summary>
    public Func<string, CancellationToken, Task<bool>>? ConfirmExpired { get; init; }

    /// <summary>Write an external-dns DNSEndpoint for groups annotated with <see cref="DnsEndpoints.NameAnnotation"/>.</summary>
    public bool DnsEndpointsEnabled { get; init; }

    // The DNSEndpoint spec last written per group (only the group's own key touches its entry).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _dnsWritten = new(StringComparer.Ordinal);

    // The last note per group and reason of the Events written only when their note changes (not on every reconcile).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Group, string Reason), string> _lastNotes = new();

    /// <summary>How long a node whose NodeHaConfig is newer than its report counts as applying it, not as not reporting.</summary>
    public TimeSpan ApplyGrace { get; init; } = TimeSpan.FromSeconds(10);

    // Per node, the config generation whose report is awaited and when this replica first saw it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Generation, DateTimeOffset Since)> _awaited = new(StringComparer.Ordinal);

    private long _statusWrites;
    public long StatusWrites => Interlocked.Read(ref _statusWrites);

    /// <summary>
    /// The least time between two status writes of one group. Agents report one by one (a failover: the old master's report,
    /// then the new master's), and each report re-aggregates the status: a write at once when the last was longer ago, else
    /// one after the interval with whatever is current then (a reconcile reads the cache again; the last write is never stale).
    /// Short next to the 2 s in which a new master must show.
    /// </summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    private readonly WrittenStatus<VirtualIpGroupStatus> _written = new();

    /// <summary>How many groups' last status writes are kept (one per live group written by this replica).</summary>
    public int RememberedGroups => _written.Count;

    /// <summary>The group is gone (finalized, or deleted without our finalizer): its last write and notes are no longer kept.</summary>
    public void Forget(string groupKey)
    {
        foreach (var slot in _lastNotes.Keys.Where(k => k.Group == groupKey)) _lastNotes.TryRemove(slot, out _);
        _written.Forget(groupKey);
    }

    public async Task<ReconcileResult> ReconcileAsync(VirtualIpGroupResource group, ClusterSnapshot snapshot, PlanResult? plan, CancellationToken cancellationToken)
    {
        var key = Kinds.Key(group.Metadata);
        var finalizers = group.Metadata.Finalizers ?? [];
        if (group.Metadata.DeletionTimestamp is { } deletedAt)
        {
            if (!finalizers.Contains(Kinds.VipsFinalizer)) return ReconcileResult.Done;
            await SyncDnsEndpointAsync(group, null, cancellationToken).ConfigureAwait(false);
            var decision = await ConfirmAsync(ReleaseWait.Decide(NodesHoldingGroup(key, snapshot.Configs), snapshot.Heartbeats, time.GetUtcNow()),
                cancellationToken).ConfigureAwait(false);
            if (decision.Expired.Count > 0)
                await RecordOnChangeAsync(group, EventTypes.Warning, GroupEvents.ReleaseAssumed, "Finalize", ReleaseWait.ExpiredNote(decision.Expired),
                    cancellationToken).ConfigureAwait(false);
            var holding = decision.WaitingFor;
            if (holding.Count == 0)
            {
                await SetFinalizersAsync(group, finalizers.Where(f => f != Kinds.VipsFinalizer).ToList(), cancellationToken).ConfigureAwait(false);
                Forget(key);
                await events.RecordAsync(Kinds.Subject(group), EventTypes.Normal, "VipsReleased", "Finalize",
                    decision.Expired.Count == 0 ? "every node reports the virtual IPs released"
                        : "every node with a running agent reports the virtual IPs released", cancellationToken).ConfigureAwait(false);
                return ReconcileResult.Done;
            }
            var waited = time.GetUtcNow() - new DateTimeOffset(DateTime.SpecifyKind(deletedAt, DateTimeKind.Utc));
            if (waited >= ReleaseTimeout)
            {
                await events.RecordAsync(Kinds.Subject(group), EventTypes.Warning, "ReleaseTimeout", "Finalize",
                    $"gave up waiting after {ReleaseTimeout.TotalSeconds:0} s for node(s) {string.Join(", ", holding)} to report the virtual IPs released",
                    cancellationToken).ConfigureAwait(false);
                await SetFinalizersAsync(group, finalizers.Where(f => f != Kinds.VipsFinalizer).ToList(), cancellationToken).ConfigureAwait(false);
                Forget(key);
                return ReconcileResult.Done;
            }
            await RecordOnChangeAsync(group, EventTypes.Normal, GroupEvents.WaitingForRelease, "Finalize",
                $"waiting for node(s) {string.Join(", ", holding)} to report the virtual IPs released", cancellationToken).ConfigureAwait(false);
            var left = ReleaseTimeout - waited;
            return ReconcileResult.After(left < ReleasePoll ? left : ReleasePoll);
        }

        if (!finalizers.Contains(Kinds.VipsFinalizer))
        {
            // The update event this causes brings the group back for its status.
            await SetFinalizersAsync(group, [.. finalizers, Kinds.VipsFinalizer], cancellationToken).ConfigureAwait(false);
            return ReconcileResult.Done;
        }

        var groupPlan = plan?.Groups.FirstOrDefault(g => g.Group == key);
        if (groupPlan is null) return ReconcileResult.After(ReleasePoll); // not planned yet: the plan key runs first
        var nodes = snapshot.Nodes.ToDictionary(n => n.Metadata.Name, StringComparer.Ordinal);
        var (reports, applyingLeft) = Reports(snapshot.Configs, nodes, snapshot.Heartbeats);
        var secretRef = group.Spec.Vrrp.AuthSecretRef;
        var secretPresent = secretRef is null || snapshot.SecretHasKey(group.Metadata.NamespaceProperty, secretRef.Name, secretRef.Key);
        var previous = _written.Current(key, group.Status, group.Metadata.ResourceVersion);
        var status = GroupStatusBuilder.Build(previous == group.Status ? group : WithStatus(group, previous), groupPlan, reports, secretPresent, time.GetUtcNow());
        TimeSpan? writeIn = null;

        var json = KubernetesJson.Serialize(status);
        if (previous is null || KubernetesJson.Serialize(previous) != json)
        {
            var now = time.GetUtcNow();
            var since = _written.LastWrite(key) is { } last ? now - last : TimeSpan.MaxValue;
            if (since < StatusInterval) writeIn = StatusInterval - since; // the trailing write, with what is current then
            else
            {
                var patch = new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch);
                var response = await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(patch, ApiGroup.Group, ApiGroup.Version,
                    group.Metadata.NamespaceProperty, Kinds.VirtualIpGroups, group.Metadata.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
                _written.Wrote(key, status, response, now);
                Interlocked.Increment(ref _statusWrites);
                await RecordFlipsAsync(group, previous, status, cancellationToken).ConfigureAwait(false);
                foreach (var change in GroupEvents.MasterChanges(previous, status))
                    await events.RecordAsync(Kinds.Subject(group), EventTypes.Normal, GroupEvents.MasterChanged, "Failover", change, cancellationToken).ConfigureAwait(false);
            }
        }
        if (GroupEvents.NginxRejections(groupPlan, reports) is { } rejected)
            await RecordOnChangeAsync(group, EventTypes.Warning, GroupEvents.NginxConfigRejected, "Reconcile", rejected, cancellationToken).ConfigureAwait(false);
        else
            _lastNotes.TryRemove((key, GroupEvents.NginxConfigRejected), out _);
        await SyncDnsEndpointAsync(group, DnsEndpoints.Desired(group, status), cancellationToken).ConfigureAwait(false);
        // A node still applying when its grace ends counts as not reporting then, even if nothing else changes.
        var applying = groupPlan.Instances.SelectMany(i => i.Nodes).Where(applyingLeft.ContainsKey).Select(n => applyingLeft[n]).ToList();
        if (writeIn is { } wait) applying.Add(wait);
        return applying.Count > 0 ? ReconcileResult.After(applying.Min()) : ReconcileResult.Done;
    }

    private static VirtualIpGroupResource WithStatus(VirtualIpGroupResource group, VirtualIpGroupStatus? status) => new()
    {
        ApiVersion = group.ApiVersion, Kind = group.Kind, Metadata = group.Metadata, Spec = group.Spec, Status = status,
    };

    /// <summary>Nodes whose expiry a fresh read of their Lease does not confirm (or cannot: the API server away) are waited for.</summary>
    private async Task<ReleaseWait.Decision> ConfirmAsync(ReleaseWait.Decision decision, CancellationToken cancellationToken)
    {
        if (ConfirmExpired is null || decision.Expired.Count == 0) return decision;
        var waiting = decision.WaitingFor.ToList();
        var expired = new List<Heartbeat>();
        foreach (var heartbeat in decision.Expired)
        {
            bool confirmed;
            try
            {
                confirmed = await ConfirmExpired(heartbeat.Node, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is k8s.Autorest.HttpOperationException or HttpRequestException or TimeoutException
                                          || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                log.Debug($"heartbeat: confirming {heartbeat.Node}'s expiry: {OperatorLog.Describe(e)}");
                confirmed = false;
            }
            if (confirmed) expired.Add(heartbeat);
            else waiting.Add(heartbeat.Node);
        }
        return new ReleaseWait.Decision(waiting.Order(StringComparer.Ordinal).ToList(), expired);
    }

    /// <summary>Each node's report, marked applying while its config is newer than the report for less than
    /// <see cref="ApplyGrace"/>; and for those nodes the grace left.</summary>
    private (List<NodeReport> Reports, Dictionary<string, TimeSpan> ApplyingLeft) Reports(IReadOnlyList<NodeHaConfigResource> configs, Dictionary<string, V1Node> nodes,
        IReadOnlyDictionary<string, Heartbeat> heartbeats)
    {
        var now = time.GetUtcNow();
        var left = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        var reports = new List<NodeReport>(configs.Count);
        foreach (var config in configs)
        {
            var name = config.Metadata.Name;
            var report = new NodeReport(name, nodes.TryGetValue(name, out var node) && ClusterSnapshot.IsReady(node), config.Spec, config.Metadata.Generation, config.Status,
                heartbeats.GetValueOrDefault(name));
            if (!report.Current && config.Metadata.Generation is { } generation)
            {
                var awaited = _awaited.AddOrUpdate(name, _ => (generation, now), (_, old) => old.Generation == generation ? old : (generation, now));
                var remaining = ApplyGrace - (now - awaited.Since);
                if (remaining > TimeSpan.Zero)
                {
                    report = report with { Applying = true };
                    left[name] = remaining;
                }
            }
            else _awaited.TryRemove(name, out _);
            reports.Add(report);
        }
        return (reports, left);
    }

    private async Task SyncDnsEndpointAsync(VirtualIpGroupResource group, IReadOnlyList<DnsEndpoints.Endpoint>? records, CancellationToken cancellationToken)
    {
        if (!DnsEndpointsEnabled) return;
        var key = Kinds.Key(group.Metadata);
        var ns = group.Metadata.NamespaceProperty;
        if (records is null)
        {
            if (!_dnsWritten.TryRemove(key, out _)) return;
            try
            {
                await client.CustomObjects.DeleteNamespacedCustomObjectAsync(DnsEndpoints.Group, DnsEndpoints.Version, ns, DnsEndpoints.Plural,
                    group.Metadata.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { }
            log.Info($"VirtualIpGroup {key}: DNSEndpoint deleted");
            return;
        }
        var body = KubernetesJson.Serialize(new
        {
            apiVersion = $"{DnsEndpoints.Group}/{DnsEndpoints.Version}",
            kind = "DNSEndpoint",
            metadata = new
            {
                name = group.Metadata.Name,
                @namespace = ns,
                ownerReferences = new[] { new V1OwnerReference { ApiVersion = ApiGroup.ApiVersion, Kind = VirtualIpGroup.KindName, Name = group.Metadata.Name, Uid = group.Metadata.Uid, Controller = true } },
            },
            spec = new { endpoints = records },
        });
        if (_dnsWritten.TryGetValue(key, out var written) && written == body) return;
        await client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch(body, V1Patch.PatchType.ApplyPatch), DnsEndpoints.Group, DnsEndpoints.Version,
            ns, DnsEndpoints.Plural, group.Metadata.Name, fieldManager: Kinds.FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        _dnsWritten[key] = body;
        log.Info($"VirtualIpGroup {key}: DNSEndpoint " + (records.Count == 0 ? "without records (no VIP has a MASTER)"
            : string.Join("; ", records.Select(r => $"{r.DnsName} {r.RecordType} {string.Join(",", r.Targets)}"))));
    }

    /// <summary>Nodes whose config still carries an instance of the group, or whose agent still reports one
    /// (it has not yet applied the config without it).</summary>
    public static IReadOnlyList<string> NodesHoldingGroup(string groupKey, IEnumerable<NodeHaConfigResource> configs) =>
        configs.Where(c =>
                c.Spec.VrrpInstances.Any(i => i.Group == groupKey)
                || (c.Status?.Instances.Any(i => i.Name.StartsWith(groupKey + "/", StringComparison.Ordinal)) ?? false))
            .Select(c => c.Metadata.Name).Order(StringComparer.Ordinal).ToList();

    private async Task SetFinalizersAsync(VirtualIpGroupResource group, List<string> finalizers, CancellationToken cancellationToken)
    {
        // resourceVersion makes the patch conditional: a concurrent change fails it, and the retry reads the new object.
        var patch = new V1Patch(KubernetesJson.Serialize(new { metadata = new { finalizers, resourceVersion = group.Metadata.ResourceVersion } }),
            V1Patch.PatchType.MergePatch);
        await client.CustomObjects.PatchNamespacedCustomObjectAsync(patch, ApiGroup.Group, ApiGroup.Version, group.Metadata.NamespaceProperty,
            Kinds.VirtualIpGroups, group.Metadata.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
        log.Info($"VirtualIpGroup {Kinds.Key(group.Metadata)}: finalizers [{string.Join(", ", finalizers)}]");
    }

    private async Task RecordOnChangeAsync(VirtualIpGroupResource group, string type, string reason, string action, string note, CancellationToken cancellationToken)
    {
        var slot = (Kinds.Key(group.Metadata), reason);
        if (_lastNotes.TryGetValue(slot, out var last) && last == note) return;
        await events.RecordAsync(Kinds.Subject(group), type, reason, action, note, cancellationToken).ConfigureAwait(false);
        _lastNotes[slot] = note;
    }

    private async Task RecordFlipsAsync(VirtualIpGroupResource group, VirtualIpGroupStatus? previous, VirtualIpGroupStatus status, CancellationToken cancellationToken)
    {
        foreach (var condition in status.Conditions)
        {
            var before = previous?.Conditions.FirstOrDefault(c => c.Type == condition.Type);
            if (before is not null && before.Status == condition.Status && before.Reason == condition.Reason) continue;
            var bad = condition.Type == ConditionTypes.Ready ? condition.Status != ConditionStatus.True : condition.Status == ConditionStatus.True;
            if (!bad && before is null) continue; // a healthy first status is no news
            await events.RecordAsync(Kinds.Subject(group), bad ? EventTypes.Warning : EventTypes.Normal, condition.Reason, "Reconcile",
                $"{condition.Type}={condition.Status}: {condition.Message}", cancellationToken).ConfigureAwait(false);
        }
    }
}
