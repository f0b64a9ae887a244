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
public sealed class NodeHaConfigReconciler(IKubernetes client, OperatorLog log)
{
    private long _applies, _deletes;
    // What we last applied per node and the generation the server gave it: the cache may not have caught up yet.
    private readonly Dictionary<string, (string Spec, long Generation)> _applied = new(StringComparer.Ordinal);

    /// <summary>NodeHaConfig writes so far (server-side applies and deletes).</summary>
    public long Applies => Interlocked.Read(ref _applies);
    public long Deletes => Interlocked.Read(ref _deletes);

    /// <summary>What the last plan decided, for the status reconcilers.</summary>
    public PlanResult? LastPlan { get; private set; }

    public async Task<PlanResult> ReconcileAsync(ClusterSnapshot snapshot, CancellationToken cancellationToken)
    {
        var plan = Planner.Plan(snapshot.ToPlanInput());
        LastPlan = plan;
        var existing = snapshot.Configs.ToDictionary(c => c.Metadata.Name, StringComparer.Ordinal);
        var groupsWaiting = snapshot.Groups.Any(g => g.Metadata.DeletionTimestamp is not null && (g.Metadata.Finalizers?.Contains(Kinds.VipsFinalizer) ?? false));

        var failures = new List<Exception>();
        foreach (var desired in plan.NodeConfigs)
        {
            try
            {
                await ReconcileNodeAsync(desired, existing, groupsWaiting, cancellationToken).ConfigureAwait(false);
            }
            catch (k8s.Autorest.HttpOperationException e)
            {
                // One node's refused config (e.g. the schema rejects it) must not hold back the others; retried with backoff.
                log.Warn($"NodeHaConfig {desired.Spec.NodeName}: not written: {OperatorLog.Describe(e)}");
                failures.Add(e);
            }
        }

        // NodeHaConfigs of nodes that no longer exist.
        var planned = plan.NodeConfigs.Select(c => c.Spec.NodeName).ToHashSet(StringComparer.Ordinal);
        foreach (var stale in existing.Keys.Where(n => !planned.Contains(n)))
            await DeleteAsync(stale, cancellationToken).ConfigureAwait(false);
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
        if (current is not null && SameSpec(current.Spec, desired.Spec)) return;
        if (_applied.TryGetValue(name, out var applied) && applied.Spec == KubernetesJson.Serialize(desired.Spec)
            && (current?.Metadata.Generation ?? 0) < applied.Generation) return; // our write is on its way into the cache
        await ApplyAsync(desired, cancellationToken).ConfigureAwait(false);
    }

    public static bool SameSpec(NodeHaConfigSpec a, NodeHaConfigSpec b) => KubernetesJson.Serialize(a) == KubernetesJson.Serialize(b);

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
        var written = KubernetesJson.Deserialize<NodeHaConfigResource>(KubernetesJson.Serialize(response));
        _applied[desired.Spec.NodeName] = (KubernetesJson.Serialize(desired.Spec), written.Metadata.Generation ?? 0);
        Interlocked.Increment(ref _applies);
        log.Info($"NodeHaConfig {desired.Spec.NodeName}: applied ({desired.Spec.VrrpInstances.Count} VRRP instance(s), {desired.Spec.BackendPools.Count} pool(s))");
    }

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
        _applied.Remove(name);
        Interlocked.Increment(ref _deletes);
        log.Info($"NodeHaConfig {name}: deleted (the node carries no group)");
    }
}
