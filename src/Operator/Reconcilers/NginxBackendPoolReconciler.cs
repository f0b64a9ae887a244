using k8s;
using k8s.Models;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

/// <summary>One NginxBackendPool: writes its status when it differs (from the cache, or from our last write while the cache
/// is older than it), and an Event when Ready flips.</summary>
public sealed class NginxBackendPoolReconciler(IKubernetes client, EventRecorder events, TimeProvider time)
{
    private readonly WrittenStatus<NginxBackendPoolStatus> _written = new();

    /// <summary>The pool is gone: its last write is no longer kept.</summary>
    public void Forget(string poolKey) => _written.Forget(poolKey);

    public async Task<ReconcileResult> ReconcileAsync(NginxBackendPoolResource pool, ClusterSnapshot snapshot, CancellationToken cancellationToken)
    {
        var key = Kinds.Key(pool.Metadata);
        if (pool.Metadata.DeletionTimestamp is not null)
        {
            _written.Forget(key);
            return ReconcileResult.Done;
        }
        var previous = _written.Current(key, pool.Status, pool.Metadata.ResourceVersion);
        if (!ReferenceEquals(previous, pool.Status))
            pool = new NginxBackendPoolResource { ApiVersion = pool.ApiVersion, Kind = pool.Kind, Metadata = pool.Metadata, Spec = pool.Spec, Status = previous };
        var ns = pool.Metadata.NamespaceProperty;
        var referencedBy = snapshot.Groups
            .Where(g => g.Metadata.DeletionTimestamp is null && g.Metadata.NamespaceProperty == ns && g.Spec.BackendPoolRef == pool.Metadata.Name)
            .Select(g => Kinds.Key(g.Metadata)).Order(StringComparer.Ordinal).ToList();
        var missing = new List<string>();
        foreach (var (listener, index) in pool.Spec.Listeners.Select((l, i) => (l, i)))
            if (listener.Tls?.SecretName is { } tls && !snapshot.SecretHasKey(ns, tls, null))
                missing.Add($"{tls} (spec.listeners[{index}].tls.secretName)");
        // The agents read the htpasswd from key "auth"; a Secret without it is as missing to them.
        if (pool.Spec.Status is { Enabled: true, BasicAuth.SecretName: { } auth } && !snapshot.SecretHasKey(ns, auth, Core.Nginx.NginxRuntimeOptions.HtpasswdKey))
            missing.Add($"{auth} (spec.status.basicAuth.secretName, key \"{Core.Nginx.NginxRuntimeOptions.HtpasswdKey}\")");

        var now = time.GetUtcNow();
        var status = PoolStatusBuilder.Build(pool, ClusterSnapshot.ToCore(pool, snapshot.EndpointSlices), referencedBy, snapshot.Configs, missing,
            new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, now.Second, TimeSpan.Zero));
        if (pool.Status is not null && KubernetesJson.Serialize(pool.Status) == KubernetesJson.Serialize(status)) return ReconcileResult.Done;

        var response = await client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch),
            ApiGroup.Group, ApiGroup.Version, ns, Kinds.NginxBackendPools, pool.Metadata.Name, cancellationToken: cancellationToken).ConfigureAwait(false);
        _written.Wrote(key, status, response, now);

        var ready = status.Conditions[0];
        var before = pool.Status?.Conditions.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
        if ((before is null && ready.Status != ConditionStatus.True) || (before is not null && (before.Status != ready.Status || before.Reason != ready.Reason)))
            await events.RecordAsync(Kinds.Subject(pool), ready.Status == ConditionStatus.True ? EventTypes.Normal : EventTypes.Warning,
                ready.Reason, "Reconcile", $"Ready={ready.Status}: {ready.Message}", cancellationToken).ConfigureAwait(false);
        return ReconcileResult.Done;
    }
}
