using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// The "plan" key: reads the caches, runs the Planner (pure), and writes only the NodeHaConfigs whose spec
/// differs from the cache, by server-side apply with our field manager. A node that leaves every group loses its
/// NodeHaConfig, unless a group being deleted may still wait for that node's agent to report its VIPs released.
/// </summary>
public sealed class NodeHaConfigReconciler(IKubernetes client, OperatorLog log, int concurrency = NodeHaConfigReconciler.DefaultConcurrency)
{
    /// <summary>NodeHaConfig writes in flight at once: one at a time, 200 nodes cost 200 round trips end to end
    /// (12 s on the benchmark's machine); the API server takes them in parallel.</summary>
    public const int DefaultConcurrency = 16;

    private long _applies, _deletes;
    // What we last applied per node (the spec's hash) and the generation the server gave it: the cache may not have caught up yet.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string SpecHash, long Generation, NodeHaConfigSpec Value)> _applied = new(StringComparer.Ordinal);

    private readonly PlanInputCache _inputs = new(); // only the plan key (one at a time) uses it

    /// <summary>NodeHaConfig writes so far (server-side applies and deletes).</summary>
    public long Applies => Interlocked.Read(ref _applies);
    public long Deletes => Interlocked.Read(ref _deletes);

    /// <summary>
    /// The config is the one our last write of it made (the server gave that write this generation): its arrival in the cache
    /// changes nothing the plan reads (<see cref="InForce"/> counted it already), so it needs no new plan. At 200 nodes each
    /// change's writes came back as as many plans, and the initial reconcile's as hundreds.
    /// </summary>
    public bool IsOwnWrite(NodeHaConfigResource config) =>
        _applied.TryGetValue(config.Metadata.Name, out var applied) && config.Metadata.Generation is { } generation && generation == applied.Generation;

    /// <summary>What the last plan decided, for the status reconcilers.</summary>
    public PlanResult? LastPlan { get; private set; }

    public async Task<PlanResult> ReconcileAsync(ClusterSnapshot snapshot, CancellationToken cancellationToken)
    {
        // The planner keeps VRIDs and preferred masters from the configs in force: count our own writes the cache has not
        // caught up with. A cache holding only a backup's new config would otherwise make that backup the preferred
        // master, and the plan would rewrite the whole group (seen at 200 nodes with the writes in parallel).
        // Incremental: the last plan's work is reused for every group and node whose inputs did not change (the same result as a
        // full plan, tests/Core.Tests IncrementalPlanPropertyTests); the input keeps the planner objects of unchanged resources.
        var plan = Planner.Plan(_inputs.ToPlanInput(snapshot with { Configs = InForce(snapshot.Configs) }), LastPlan);
        LastPlan = plan;
        var existing = snapshot.Configs.ToDictionary(c => c.Metadata.Name, StringComparer.Ordinal);
        var groupsWaiting = snapshot.Groups.Any(g => g.Metadata.DeletionTimestamp is not null && (g.Metadata.Finalizers?.Contains(Kinds.VipsFinalizer) ?? false));

        var failures = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        // Nodes are independent: their writes go out in parallel (bounded), each node's at most once per plan.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, concurrency), CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(plan.NodeConfigs, parallel, async (desired, ct) =>
        {
            try
            {
                await ReconcileNodeAsync(desired, existing, groupsWaiting, ct).ConfigureAwait(false);
            }
            catch (k8s.Autorest.HttpOperationException e)
            {
                // One node's refused config (e.g. the schema rejects it) must not hold back the others; retried with backoff.
                log.Warn($"NodeHaConfig {desired.Spec.NodeName}: not written: {OperatorLog.Describe(e)}");
                failures.Add(e);
            }
        }).ConfigureAwait(false);

        // NodeHaConfigs of nodes that no longer exist.
        var planned = plan.NodeConfigs.Select(c => c.Spec.NodeName).ToHashSet(StringComparer.Ordinal);
        await Parallel.ForEachAsync(existing.Keys.Where(n => !planned.Contains(n)), parallel,
            async (stale, ct) => await DeleteAsync(stale, ct).ConfigureAwait(false)).ConfigureAwait(false);
        if (failures.Count > 0) throw new AggregateException($"{failures.Count} NodeHaConfig(s) not written", failures);
        return plan;
    }

    private async Task ReconcileNodeAsync(NodeHaConfig desired, Dictionary<string, NodeHaConfigResource> existing, bool groupsWaiting,
        CancellationToken cancellationToken)
    {
        var name = desired.Spec.NodeName;
        existing.TryGetValue(name, out var current);
        var empty = desired.Spec.VrrpInstances.Count == 0 && desired.Spec.BackendPools.Count == 0;
        if (empty && current is null) return;
        if (empty && !groupsWaiting)
        {
            await DeleteAsync(name, cancellationToken).ConfigureAwait(false);
            return;
        }
        var desiredHash = SpecHash(desired.Spec);
        if (current is not null && SpecHash(current.Spec) == desiredHash) return;
        if (_applied.TryGetValue(name, out var applied) && applied.SpecHash == desiredHash
            && (current?.Metadata.Generation ?? 0) < applied.Generation) return; // our write is on its way into the cache
        await ApplyAsync(desired, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cached configs, each replaced by our last write when the cache holds an older generation or none yet.</summary>
    private List<NodeHaConfigResource> InForce(IReadOnlyList<NodeHaConfigResource> cached)
    {
        var result = cached.ToDictionary(c => c.Metadata.Name, StringComparer.Ordinal);
        foreach (var (name, applied) in _applied)
            if ((result.TryGetValue(name, out var current) ? current.Metadata.Generation ?? 0 : 0) < applied.Generation)
                // The agent's last report stays: the planner reads the routers it hears (a plan between our write and its echo
                // must not lose them, now that the echo itself no longer re-plans).
                result[name] = new NodeHaConfigResource { Metadata = new V1ObjectMeta { Name = name, Generation = applied.Generation }, Spec = applied.Value, Status = current?.Status };
        return result.Values.ToList();
    }

    // Neither a cached spec (an update brings a new object) nor a planned one (the planner hands an unchanged node the same
    // object again) ever changes, so each one's hash is made once, not on every plan.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<NodeHaConfigSpec, string> Hashes = new();

    /// <summary>What "the same spec" compares: the SHA-256 of its JSON, made once per spec object. The hash, not the JSON
    /// itself, which is tens of KB per node at scale (kept twice per node, it was 23 MB of the operator's 45 MB live heap at
    /// 200 nodes).</summary>
    public static string SpecHash(NodeHaConfigSpec spec) => Hashes.GetValue(spec, HashOf);

    private static string HashOf(NodeHaConfigSpec spec) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(KubernetesJson.Serialize(spec).AsSpan())));

    private async Task ApplyAsync(NodeHaConfig desired, CancellationToken cancellationToken)
    {
        var body = new NodeHaConfigResource
        {
            ApiVersion = ApiGroup.ApiVersion,
            Kind = NodeHaConfig.KindName,
            Metadata = new V1ObjectMeta
            {
                Name = desired.Spec.NodeName,
                Labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = Kinds.FieldManager },
            },
            Spec = desired.Spec,
        };
        var response = await client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch(KubernetesJson.Serialize(body), V1Patch.PatchType.ApplyPatch),
            ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, desired.Spec.NodeName,
            fieldManager: Kinds.FieldManager, force: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        _applied[desired.Spec.NodeName] = (SpecHash(desired.Spec), GenerationOf(response), desired.Spec);
        Interlocked.Increment(ref _applies);
        log.Info($"NodeHaConfig {desired.Spec.NodeName}: applied ({desired.Spec.VrrpInstances.Count} VRRP instance(s), {desired.Spec.BackendPools.Count} pool(s))");
    }

    /// <summary>metadata.generation of the object the server answered with (<see cref="ApiResponse"/>).</summary>
    private static long GenerationOf(object? response) =>
        ApiResponse.Metadata(response) is { } metadata
        && metadata.TryGetProperty("generation", out var generation) && generation.TryGetInt64(out var value)
            ? value
            : KubernetesJson.Deserialize<NodeHaConfigResource>(KubernetesJson.Serialize(response)).Metadata.Generation ?? 0;

    private async Task DeleteAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            await client.CustomObjects.DeleteClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, name,
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
        _applied.TryRemove(name, out _);
        Interlocked.Increment(ref _deletes);
        log.Info($"NodeHaConfig {name}: deleted (the node carries no group)");
    }
}
