using System.Diagnostics;
using System.Globalization;
using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>
/// The API server's share of the initial reconcile, without the operator (operator-scale --apply-cost): the model's
/// planned NodeHaConfigs written by server-side apply exactly as the operator writes them (same field manager, force,
/// 16 in flight), timed from the first request to the last answer; then each one's first status as an agent writes it
/// (a merge patch of the status subresource: every instance BACKUP), timed the same way; then deleted, and again for
/// every round. Run against
/// CRDs that differ in one thing (bench/apply-cost.sh: with and without the NodeHaConfig CRD's CEL rules), it weighs
/// that thing alone, with no operator start-up, JIT or simulated agents in the measurement.
/// </summary>
public static class ApplyCost
{
    public const int InFlight = 16;

    public static async Task<string> MeasureAsync(IKubernetes client, ScaleOptions options, int rounds, CancellationToken cancellationToken)
    {
        var specs = Planner.Plan(new ScaleModel(options).Snapshot().ToPlanInput()).NodeConfigs.Select(c => c.Spec).ToList();
        var bodies = specs.Select(Body).ToList();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = InFlight, CancellationToken = cancellationToken };

        var statuses = specs.Select(spec => (Name: spec.NodeName, Json: KubernetesJson.Serialize(new
        {
            status = new NodeHaConfigStatus
            {
                ObservedGeneration = 1,
                Nginx = new NginxStatus { State = NginxState.Running },
                Instances = spec.VrrpInstances.Select(i => new VrrpInstanceStatus { Name = i.Name, State = VrrpInstanceState.Backup, Transitions = 0 }).ToList(),
            },
        }))).ToList();

        var (seconds, statusSeconds) = (new List<double>(), new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            var clock = Stopwatch.StartNew();
            await Parallel.ForEachAsync(bodies, parallel, async (body, ct) =>
                await client.CustomObjects.PatchClusterCustomObjectAsync(new V1Patch(body.Json, V1Patch.PatchType.ApplyPatch),
                    ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, body.Name, fieldManager: Kinds.FieldManager, force: true,
                    cancellationToken: ct).ConfigureAwait(false)).ConfigureAwait(false);
            seconds.Add(clock.Elapsed.TotalSeconds);
            clock.Restart();
            await Parallel.ForEachAsync(statuses, parallel, async (status, ct) =>
                await client.CustomObjects.PatchClusterCustomObjectStatusAsync(new V1Patch(status.Json, V1Patch.PatchType.MergePatch),
                    ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, status.Name, cancellationToken: ct).ConfigureAwait(false)).ConfigureAwait(false);
            statusSeconds.Add(clock.Elapsed.TotalSeconds);
            await Parallel.ForEachAsync(bodies, parallel, async (body, ct) =>
                await client.CustomObjects.DeleteClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, body.Name,
                    cancellationToken: ct).ConfigureAwait(false)).ConfigureAwait(false);
        }

        var instances = specs.Sum(s => s.VrrpInstances.Count);
        var size = bodies.Sum(b => b.Json.Length);
        return string.Create(CultureInfo.InvariantCulture,
            $"{bodies.Count} NodeHaConfigs ({instances} VRRP instances, {size / 1024.0:F0} KiB of JSON) by server-side apply, {InFlight} in flight: " +
            $"{string.Join(", ", seconds.Select(s => $"{s:F2} s"))} (median {Report.Percentile(seconds, 50):F2} s); " +
            $"their first status: {string.Join(", ", statusSeconds.Select(s => $"{s:F2} s"))} (median {Report.Percentile(statusSeconds, 50):F2} s)");
    }

    static (string Name, string Json) Body(NodeHaConfigSpec spec) => (spec.NodeName, KubernetesJson.Serialize(new NodeHaConfigResource
    {
        ApiVersion = ApiGroup.ApiVersion,
        Kind = NodeHaConfig.KindName,
        Metadata = new V1ObjectMeta
        {
            Name = spec.NodeName,
            Labels = new Dictionary<string, string> { ["app.kubernetes.io/managed-by"] = Kinds.FieldManager },
        },
        Spec = spec,
    }));
}
