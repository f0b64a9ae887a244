using System.Runtime.CompilerServices;
using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// The planner's input from a <see cref="ClusterSnapshot"/>, as <see cref="ClusterSnapshot.ToPlanInput"/> makes it, but
/// keeping the planner object of a group, pool or node while what it carries is unchanged. The planner recognises unchanged
/// inputs by reference (<see cref="Planner.Plan(PlanInput, PlanResult)"/>), and an informer hands out a new object for
/// every update, status-only ones and Node heartbeats included. Not thread-safe: the plan key (one at a time) owns it.
/// </summary>
public sealed class PlanInputCache
{
    private Dictionary<string, (string Fingerprint, VirtualIpGroup Core)> _groups = new(StringComparer.Ordinal);
    private Dictionary<string, (string Fingerprint, NginxBackendPool Core)> _pools = new(StringComparer.Ordinal);
    private Dictionary<string, (string Fingerprint, Node Core)> _nodes = new(StringComparer.Ordinal);

    // An informer's object never changes (an update brings a new one), so its fingerprint is made once per object.
    private static readonly ConditionalWeakTable<object, string> Fingerprints = new();

    public PlanInput ToPlanInput(ClusterSnapshot snapshot)
    {
        var groups = new Dictionary<string, (string, VirtualIpGroup)>(StringComparer.Ordinal);
        var coreGroups = snapshot.Groups.Where(g => g.Metadata.DeletionTimestamp is null)
            .Select(g => Reuse(_groups, groups, Kinds.Key(g.Metadata),
                Fingerprints.GetValue(g, _ => $"{Json(g.Metadata.Labels)}|{Json(g.Spec)}"), () => ClusterSnapshot.ToCore(g)))
            .ToList();
        var pools = new Dictionary<string, (string, NginxBackendPool)>(StringComparer.Ordinal);
        var corePools = snapshot.Pools.Select(p => Reuse(_pools, pools, Kinds.Key(p.Metadata), PoolFingerprint(p, snapshot.EndpointSlices),
            () => ClusterSnapshot.ToCore(p, snapshot.EndpointSlices))).ToList();
        var nodes = new Dictionary<string, (string, Node)>(StringComparer.Ordinal);
        var coreNodes = snapshot.Nodes.Select(n => Reuse(_nodes, nodes, n.Metadata.Name,
            Fingerprints.GetValue(n, _ => $"{Json(n.Metadata.Labels)}|{Json(n.Status?.Addresses)}"), () => ClusterSnapshot.ToCore(n))).ToList();
        (_groups, _pools, _nodes) = (groups, pools, nodes); // gone objects are forgotten
        return snapshot.ToPlanInput(coreGroups, corePools, coreNodes);
    }

    private static T Reuse<T>(Dictionary<string, (string Fingerprint, T Core)> before, Dictionary<string, (string, T)> now, string key,
        string fingerprint, Func<T> make)
    {
        var core = before.TryGetValue(key, out var old) && old.Fingerprint == fingerprint ? old.Core : make();
        now[key] = (fingerprint, core);
        return core;
    }

    /// <summary>A pool with a Service also carries its ready endpoints, which come from other objects (EndpointSlices).</summary>
    private static string PoolFingerprint(NginxBackendPoolResource pool, IReadOnlyList<V1EndpointSlice> slices)
    {
        var own = Fingerprints.GetValue(pool, _ => $"{Json(pool.Metadata.Labels)}|{Json(pool.Spec)}");
        return pool.Spec.Backends.Service is { } service
            ? own + "|" + string.Join(",", ClusterSnapshot.ResolveEndpoints(pool.Metadata.NamespaceProperty, service, slices).Select(e => $"{e.Address}:{e.Port}"))
            : own;
    }

    private static string Json(object? value) => value is null ? "null" : KubernetesJson.Serialize(value);
}
