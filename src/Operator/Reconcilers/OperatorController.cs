using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

public sealed record OperatorOptions
{
    public int Workers { get; init; } = 2;
    public InformerOptions Informer { get; init; } = new();
    /// <summary>Null runs without leader election (one replica only).</summary>
    public LeaderElectionOptions? LeaderElection { get; init; }
    public TimeSpan ReleaseTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>How long a node whose NodeHaConfig is newer than its report counts as applying it (not as not reporting).</summary>
    public TimeSpan ApplyGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>The least time between two status writes of one VirtualIpGroup (<see cref="VirtualIpGroupReconciler.StatusInterval"/>).</summary>
    public TimeSpan GroupStatusInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Write external-dns DNSEndpoints for annotated groups (needs the DNSEndpoint CRD).</summary>
    public bool DnsEndpoints { get; init; }
    public string Instance { get; init; } = Environment.MachineName;
    /// <summary>Where the agents' heartbeat Leases (<c>nginx-ha-agent-NODE</c>) are watched: the operator's own namespace.</summary>
    public string HeartbeatNamespace { get; init; } = "default";
    /// <summary>Reconciles counted and timed, gauges read from the queue, the Lease and the caches; null: none.</summary>
    public Metrics.OperatorMetrics? Metrics { get; init; }
    /// <summary>Told when a start-up step is first reached (the process gives back start-up memory); called once per step.</summary>
    public Action<Metrics.StartupStep>? StartupStepReached { get; init; }
}

/// <summary>
/// Wires the informers to the work queue and the queue to the reconcilers. Keys: <c>plan</c> (every
/// NodeHaConfig, from the whole cluster view: the planner allocates VRIDs across groups) and
/// <c>vipg:NAMESPACE/NAME</c> (one group's finalizer and status). Caches stay warm on every replica; only the
/// leader runs the workers.
/// </summary>
public sealed class OperatorController
{
    public const string PlanKey = "plan";
    public const string GroupKeyPrefix = "vipg:";
    public const string PoolKeyPrefix = "nbp:";

    private readonly OperatorLog _log;
    private readonly OperatorOptions _options;
    private readonly TimeProvider _time;
    private readonly IKubernetes _client;

    public ResourceInformer<VirtualIpGroupResource> Groups { get; }
    public ResourceInformer<NginxBackendPoolResource> Pools { get; }
    public ResourceInformer<NodeHaConfigResource> Configs { get; }
    public ResourceInformer<V1Node> Nodes { get; }
    public ResourceInformer<V1EndpointSlice> EndpointSlices { get; }
    public ResourceInformer<V1Secret> Secrets { get; }
    public ResourceInformer<V1Lease> Leases { get; }
    public HeartbeatTracker Heartbeats { get; }
    private readonly HeartbeatConfirmation _heartbeatConfirmation;
    public WorkQueue<string> Queue { get; }
    public NodeHaConfigReconciler ConfigReconciler { get; }
    public VirtualIpGroupReconciler GroupReconciler { get; }
    public NginxBackendPoolReconciler PoolReconciler { get; }
    public LeaderElection? Election { get; }

    public OperatorController(IKubernetes client, OperatorOptions options, OperatorLog log, TimeProvider? time = null)
    {
        _client = client;
        _options = options;
        _log = log;
        _time = time ?? TimeProvider.System;
        // Each cache keeps only what the reconcilers read (CachedObjects): no managedFields anywhere, no Secret values.
        var informer = options.Informer with { Transform = Compose(options.Informer.Transform, CachedObjects.Metadata) };
        Groups = new(ApiListWatch.Custom<VirtualIpGroupResource>(client, ApiGroup.Group, ApiGroup.Version, Kinds.VirtualIpGroups), log, _time, informer);
        Pools = new(ApiListWatch.Custom<NginxBackendPoolResource>(client, ApiGroup.Group, ApiGroup.Version, Kinds.NginxBackendPools), log, _time, informer);
        Configs = new(ApiListWatch.Custom<NodeHaConfigResource>(client, ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs), log, _time, informer);
        Nodes = new(ApiListWatch.Nodes(client), log, _time, informer with { Transform = Compose(options.Informer.Transform, CachedObjects.Node) });
        EndpointSlices = new(ApiListWatch.EndpointSlices(client), log, _time, informer with { Transform = Compose(options.Informer.Transform, CachedObjects.EndpointSlice) });
        Secrets = new(ApiListWatch.Secrets(client), log, _time, informer with { Transform = Compose(options.Informer.Transform, CachedObjects.Secret) });
        Leases = new(ApiListWatch.Leases(client, options.HeartbeatNamespace), log, _time, informer);
        Heartbeats = new HeartbeatTracker(_time);
        _heartbeatConfirmation = new HeartbeatConfirmation(Heartbeats,
            (lease, cancellationToken) => client.CoordinationV1.ReadNamespacedLeaseAsync(lease, options.HeartbeatNamespace, cancellationToken: cancellationToken),
            () => Election?.IsLeader ?? _running, QueueGroupsOf, options.HeartbeatNamespace, log, _time);
        // plan writes the nodes' configs: it goes before the status keys every plan queues (hundreds at scale).
        Queue = new WorkQueue<string>(_time, urgent: key => key == PlanKey);
        var events = new EventRecorder(client, Kinds.FieldManager, options.Instance, log, _time);
        ConfigReconciler = new NodeHaConfigReconciler(client, log);
        GroupReconciler = new VirtualIpGroupReconciler(client, events, log, _time)
        {
            ReleaseTimeout = options.ReleaseTimeout, ApplyGrace = options.ApplyGrace, DnsEndpointsEnabled = options.DnsEndpoints,
            StatusInterval = options.GroupStatusInterval,
            ConfirmExpired = _heartbeatConfirmation.StillExpiredAsync,
        };
        PoolReconciler = new NginxBackendPoolReconciler(client, events, _time);
        if (options.LeaderElection is { } election) Election = new LeaderElection(client, election, log, _time);
        options.Metrics?.Attach(Queue.Waiting, () => Election?.IsLeader ?? _running, Configs.List, Heartbeats, () => ConfigReconciler.LastPlan);
        Subscribe();
    }

    private static Func<object, object> Compose(Func<object, object>? first, Func<object, object> then) =>
        first is null ? then : item => then(first(item));

    private volatile bool _running;
    private readonly PlanGate _planGate = new(); // status keys wait for the term's first plan, and for the plan of their object's edit
    private PlanResult? _statusQueuedFor; // only the plan key (one worker at a time) touches it
    private bool _firstPlanReported; // likewise

    /// <summary>Every informer has listed its kind once (the readiness of a replica, leader or not), or what it waits for.</summary>
    public (bool Ready, string Reason) Readiness()
    {
        var waiting = new (string Kind, Task Synced)[]
        {
            ("VirtualIpGroups", Groups.Synced), ("NginxBackendPools", Pools.Synced), ("NodeHaConfigs", Configs.Synced),
            ("Nodes", Nodes.Synced), ("EndpointSlices", EndpointSlices.Synced), ("Secrets", Secrets.Synced),
            ("Leases", Leases.Synced),
        }.Where(w => !w.Synced.IsCompletedSuccessfully).Select(w => w.Kind).ToArray();
        return waiting.Length == 0 ? (true, "") : (false, $"caches not synced: {string.Join(", ", waiting)}");
    }

    public ClusterSnapshot Snapshot() => new(Groups.List(), Pools.List(), Nodes.List(), EndpointSlices.List(), Secrets.List(), Configs.List(),
        Heartbeats.Snapshot());

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var informers = new Task[]
        {
            Groups.RunAsync(cancellationToken), Pools.RunAsync(cancellationToken), Configs.RunAsync(cancellationToken),
            Nodes.RunAsync(cancellationToken), EndpointSlices.RunAsync(cancellationToken), Secrets.RunAsync(cancellationToken),
            Leases.RunAsync(cancellationToken),
        };
        try
        {
            await Task.WhenAll(Groups.Synced, Pools.Synced, Configs.Synced, Nodes.Synced, EndpointSlices.Synced, Secrets.Synced, Leases.Synced)
                .WaitAsync(cancellationToken).ConfigureAwait(false);
            _log.Info("operator: caches synced");
            _options.StartupStepReached?.Invoke(Metrics.StartupStep.CachesSynced);
            if (Election is null) await LeadAsync(cancellationToken).ConfigureAwait(false);
            else await Election.RunAsync(LeadAsync, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        await Task.WhenAll(informers).ConfigureAwait(false);
    }

    /// <summary>The leader's term: everything is looked at once, then the workers run until the term ends.</summary>
    private Task LeadAsync(CancellationToken cancellationToken)
    {
        _planGate.Close();
        Queue.Add(PlanKey);
        foreach (var group in Groups.List()) Queue.Add(GroupKey(group.Metadata));
        foreach (var pool in Pools.List()) Queue.Add(PoolKey(pool.Metadata));
        _running = true;
        // One more worker for the plan key alone: a change's NodeHaConfig writes never wait for a worker busy with a status write.
        return WorkQueueWorkers.RunAsync(Queue, _options.Workers, _options.Metrics is null ? ReconcileAsync : MeasuredReconcileAsync, _log, cancellationToken,
            urgentWorkers: 1);
    }

    private async Task<ReconcileResult> MeasuredReconcileAsync(string key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            var result = await ReconcileAsync(key, cancellationToken).ConfigureAwait(false);
            _options.Metrics!.Reconciled(key, _time.GetElapsedTime(started), success: true);
            return result;
        }
        catch (Exception e) when (!(e is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            _options.Metrics!.Reconciled(key, _time.GetElapsedTime(started), success: false);
            throw;
        }
    }

    private static string GroupKey(V1ObjectMeta metadata) => GroupKeyPrefix + Kinds.Key(metadata);
    private static string PoolKey(V1ObjectMeta metadata) => PoolKeyPrefix + Kinds.Key(metadata);

    private static PlanStamp StampOf(V1ObjectMeta metadata) => new(metadata.Generation ?? 0, metadata.DeletionTimestamp is not null);

    /// <summary>What the plan read of each group and pool, by status key.</summary>
    private static Dictionary<string, PlanStamp> PlanStamps(ClusterSnapshot snapshot)
    {
        var stamps = new Dictionary<string, PlanStamp>(snapshot.Groups.Count + snapshot.Pools.Count, StringComparer.Ordinal);
        foreach (var group in snapshot.Groups) stamps[GroupKey(group.Metadata)] = StampOf(group.Metadata);
        foreach (var pool in snapshot.Pools) stamps[PoolKey(pool.Metadata)] = StampOf(pool.Metadata);
        return stamps;
    }

    /// <summary>The cached group's or pool's stamp; null when it is gone (or the key is no status key).</summary>
    private PlanStamp? Stamp(string key)
    {
        if (key.StartsWith(GroupKeyPrefix, StringComparison.Ordinal)) return Groups.Get(key[GroupKeyPrefix.Length..]) is { } g ? StampOf(g.Metadata) : null;
        if (key.StartsWith(PoolKeyPrefix, StringComparison.Ordinal)) return Pools.Get(key[PoolKeyPrefix.Length..]) is { } p ? StampOf(p.Metadata) : null;
        return null;
    }

    private async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        if (key == PlanKey)
        {
            PlanResult plan;
            var snapshot = Snapshot();
            try
            {
                plan = await ConfigReconciler.ReconcileAsync(snapshot, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // After the attempt, whether its writes all went through or not.
                foreach (var held in _planGate.Open(PlanStamps(snapshot))) Queue.Add(held);
            }
            foreach (var error in plan.Errors) _log.Debug($"plan: {error}");
            // Only the groups and pools whose plan changed: queueing all 1,000 per plan kept the queue full at scale. Against
            // the plan last queued for, not LastPlan: a plan whose writes failed has set LastPlan but queued nothing.
            var (groups, pools) = StatusKeys.Changed(_statusQueuedFor, plan);
            foreach (var group in groups) Queue.Add(GroupKeyPrefix + group);
            foreach (var pool in pools) Queue.Add(PoolKeyPrefix + pool);
            _statusQueuedFor = plan;
            if (!_firstPlanReported) // its writes all went through (a failed one throws above)
            {
                _firstPlanReported = true;
                _options.StartupStepReached?.Invoke(Metrics.StartupStep.FirstPlanWritten);
            }
            return ReconcileResult.Done;
        }
        if (_planGate.TryHold(key, Stamp(key), () => Queue.IsPending(PlanKey))) return ReconcileResult.Done;
        if (key.StartsWith(PoolKeyPrefix, StringComparison.Ordinal))
        {
            var pool = Pools.Get(key[PoolKeyPrefix.Length..]);
            if (pool is null)
            {
                PoolReconciler.Forget(key[PoolKeyPrefix.Length..]);
                return ReconcileResult.Done;
            }
            return await PoolReconciler.ReconcileAsync(pool, Snapshot(), cancellationToken).ConfigureAwait(false);
        }
        if (key.StartsWith(GroupKeyPrefix, StringComparison.Ordinal))
        {
            var group = Groups.Get(key[GroupKeyPrefix.Length..]);
            if (group is null)
            {
                GroupReconciler.Forget(key[GroupKeyPrefix.Length..]); // gone without our finalizer's path through Finalize
                return ReconcileResult.Done;
            }
            return await GroupReconciler.ReconcileAsync(group, Snapshot(), ConfigReconciler.LastPlan, cancellationToken).ConfigureAwait(false);
        }
        _log.Warn($"unknown work queue key {key}");
        return ReconcileResult.Done;
    }

    private void Subscribe()
    {
        Groups.OnChange((type, old, group) =>
        {
            // Our own status writes change neither generation nor the metadata that matters: no requeue.
            if (type == InformerEventType.Modified && old is not null && !MetadataOrSpecChanged(old.Metadata, group.Metadata)) return;
            // Adding our finalizer or an annotation changes nothing the planner reads: re-planning 500 groups for each of
            // 500 finalizers cost most of the initial reconcile at scale.
            if (type != InformerEventType.Modified || old is null || PlanInputChanged(old.Metadata, group.Metadata)) Queue.Add(PlanKey);
            Queue.Add(GroupKey(group.Metadata));
            // A pool's status lists the groups that name it.
            foreach (var pool in new[] { old?.Spec.BackendPoolRef, group.Spec.BackendPoolRef }.Where(p => p is { Length: > 0 }).Distinct())
                Queue.Add(PoolKeyPrefix + Kinds.Key(new V1ObjectMeta { Name = pool, NamespaceProperty = group.Metadata.NamespaceProperty }));
        });
        Pools.OnChange((type, old, pool) =>
        {
            if (type == InformerEventType.Modified && old is not null && old.Metadata.Generation == pool.Metadata.Generation) return;
            Queue.Add(PlanKey);
            Queue.Add(PoolKey(pool.Metadata));
        });
        Configs.OnChange((type, old, config) =>
        {
            if (type == InformerEventType.Deleted
                || ((type != InformerEventType.Modified || old is null || old.Metadata.Generation != config.Metadata.Generation) && !ConfigReconciler.IsOwnWrite(config)))
                Queue.Add(PlanKey); // created, deleted or edited by someone else: make it match the plan again (our own echo is not news)
            else if (ClusterSnapshot.HeardRoutersKey(old?.Status) != ClusterSnapshot.HeardRoutersKey(config.Status))
                Queue.Add(PlanKey); // the routers its agent hears: VRID allocation and VridConflict (priority and time alone do not)
            // A new generation makes its reports stale until the agent catches up: the groups' status reads both.
            if (type == InformerEventType.Modified && old?.Metadata.Generation == config.Metadata.Generation && Json(old?.Status) == Json(config.Status)) return;
            // An agent's report or a new config: aggregate the status of the groups it concerns (and of groups waiting to be released).
            var groups = config.Spec.VrrpInstances.Select(i => i.Group)
                .Concat(config.Status?.Instances.Select(i => GroupOfInstance(i.Name)) ?? [])
                .Concat(old?.Spec.VrrpInstances.Select(i => i.Group) ?? []);
            foreach (var group in groups.Where(g => g.Length > 0).Distinct()) Queue.Add(GroupKeyPrefix + group);
            foreach (var pool in config.Spec.BackendPools.Concat(old?.Spec.BackendPools ?? []).Select(p => p.Name).Distinct()) Queue.Add(PoolKeyPrefix + pool);
        });
        Nodes.OnChange((type, old, node) =>
        {
            if (type == InformerEventType.Modified && old is not null && !NodeChanged(old, node)) return; // heartbeats
            Queue.Add(PlanKey);
            // Readiness shows in the status of the groups the node carries, which the plan need not change.
            foreach (var group in Configs.Get(node.Metadata.Name)?.Spec.VrrpInstances.Select(i => i.Group).Where(g => g.Length > 0).Distinct() ?? [])
                Queue.Add(GroupKeyPrefix + group);
        });
        EndpointSlices.OnChange((type, old, slice) =>
        {
            if (type == InformerEventType.Modified && old is not null && Json(old.Endpoints) == Json(slice.Endpoints)
                && Json(old.Ports) == Json(slice.Ports)) return;
            var service = slice.Metadata.Labels?.TryGetValue(ClusterSnapshot.ServiceNameLabel, out var name) == true ? name : null;
            if (service is null) return;
            var ns = slice.Metadata.NamespaceProperty;
            var pools = Pools.List().Where(p => p.Metadata.NamespaceProperty == ns && p.Spec.Backends.Service?.Name == service).ToList();
            if (pools.Count > 0) Queue.Add(PlanKey);
            foreach (var pool in pools) Queue.Add(PoolKey(pool.Metadata)); // their status lists the endpoints
        });
        // Heartbeats: a renewal changes nothing; a heartbeat that expires (a timer) or comes back re-judges the node's groups.
        Leases.OnChange((type, _, lease) =>
        {
            if (type == InformerEventType.Deleted) Heartbeats.Forget(lease);
            else Heartbeats.Observe(lease);
        });
        Heartbeats.Changed += node => _ = _heartbeatConfirmation.OnChangedAsync(node);
        Secrets.OnChange((_, _, secret) =>
        {
            var ns = secret.Metadata.NamespaceProperty;
            foreach (var pool in Pools.List().Where(p => p.Metadata.NamespaceProperty == ns)) Queue.Add(PoolKey(pool.Metadata));
            foreach (var group in Groups.List().Where(g => g.Metadata.NamespaceProperty == ns && g.Spec.Vrrp.AuthSecretRef?.Name == secret.Metadata.Name))
                Queue.Add(GroupKey(group.Metadata));
        });
    }

    /// <summary>A heartbeat expired, came back or was first seen (confirmed by <see cref="HeartbeatConfirmation"/>): the
    /// status of the node's groups.</summary>
    private void QueueGroupsOf(string node)
    {
        if (Configs.Get(node) is not { } config) return;
        var groups = config.Spec.VrrpInstances.Select(i => i.Group)
            .Concat(config.Status?.Instances.Select(i => GroupOfInstance(i.Name)) ?? []);
        foreach (var group in groups.Where(g => g.Length > 0).Distinct()) Queue.Add(GroupKeyPrefix + group);
    }

    private static string Json(object? value) => value is null ? "null" : KubernetesJson.Serialize(value);

    /// <summary>"ns/group/index" → "ns/group".</summary>
    private static string GroupOfInstance(string instance)
    {
        var last = instance.LastIndexOf('/');
        return last > 0 ? instance[..last] : "";
    }

    private static bool MetadataOrSpecChanged(V1ObjectMeta old, V1ObjectMeta current) =>
        old.Generation != current.Generation
        || old.DeletionTimestamp != current.DeletionTimestamp
        || !(old.Finalizers ?? []).SequenceEqual(current.Finalizers ?? [])
        || Json(old.Labels) != Json(current.Labels)
        || Json(old.Annotations) != Json(current.Annotations); // the DNSEndpoint annotations

    /// <summary>What the plan reads of a group besides its spec: labels, deletion, and the finalizers of a group being deleted
    /// (a deleted group waiting for its agents keeps its nodes' configs).</summary>
    public static bool PlanInputChanged(V1ObjectMeta old, V1ObjectMeta current) =>
        old.Generation != current.Generation
        || old.DeletionTimestamp != current.DeletionTimestamp
        || (current.DeletionTimestamp is not null && !(old.Finalizers ?? []).SequenceEqual(current.Finalizers ?? []))
        || Json(old.Labels) != Json(current.Labels);

    private static bool NodeChanged(V1Node old, V1Node current) =>
        Json(old.Metadata.Labels) != Json(current.Metadata.Labels)
        || Json(old.Status?.Addresses) != Json(current.Status?.Addresses)
        || ClusterSnapshot.IsReady(old) != ClusterSnapshot.IsReady(current);
}
