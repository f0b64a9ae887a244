using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>
/// The operator's CPU per plan without a cluster (operator-scale --plan-cost): the model's objects in a ClusterSnapshot with
/// every node's config in force, then what the plan key computes before it writes, two ways:
/// - full: the snapshot turned into the planner's input, a plan from nothing, each node's planned spec compared with the cached one;
/// - per change (as the operator runs): the benchmark's changes one by one (a backend added to a pool, a group's VIP moved),
///   each followed by the input through <see cref="PlanInputCache"/>, the incremental plan on the last one, the comparison
///   of every node's spec and the status keys; the nodes whose spec differs must be exactly the change's affected nodes,
///   and their new specs then count as written (in the cache) for the next change.
/// CPU is the measuring thread's (getrusage RUSAGE_THREAD, microseconds), so other processes on the machine do not count.
/// </summary>
public static class PlanCost
{
    public static string Measure(ScaleOptions options, int rounds)
    {
        var model = new ScaleModel(options);
        var empty = model.Snapshot();
        var configs = Planner.Plan(empty.ToPlanInput()).NodeConfigs.Select(c => Cached(c.Spec)).ToList();
        var snapshot = empty with { Configs = configs };

        var (fullWall, fullCpu) = (new List<double>(), new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            var (clock, cpuBefore) = (Stopwatch.StartNew(), ThreadCpu());
            var result = Planner.Plan(snapshot.ToPlanInput());
            var cached = configs.ToDictionary(c => c.Metadata.Name);
            var differ = result.NodeConfigs.Count(c => KubernetesJson.Serialize(cached[c.Spec.NodeName].Spec) != KubernetesJson.Serialize(c.Spec));
            fullWall.Add(clock.Elapsed.TotalMilliseconds);
            fullCpu.Add((ThreadCpu() - cpuBefore).TotalMilliseconds);
            if (differ != 0) throw new InvalidOperationException($"{differ} node(s) planned differently from the configs in force");
        }

        var inputs = new PlanInputCache();
        var last = Planner.Plan(inputs.ToPlanInput(snapshot));
        var (changeWall, changeCpu) = (new List<double>(), new List<double>());
        var (written, statusKeys) = (0, 0);
        var (phaseInput, phasePlan) = (new List<double>(), new List<double>());
        for (var k = 0; k < rounds; k++)
        {
            var change = model.Change(k);
            snapshot = Apply(snapshot, model, change);
            var (clock, cpuBefore) = (Stopwatch.StartNew(), ThreadCpu());
            var input = inputs.ToPlanInput(snapshot);
            var cpuInput = ThreadCpu();
            var plan = Planner.Plan(input, last);
            var cpuPlan = ThreadCpu();
            phaseInput.Add((cpuInput - cpuBefore).TotalMilliseconds);
            phasePlan.Add((cpuPlan - cpuInput).TotalMilliseconds);
            var cached = snapshot.Configs.ToDictionary(c => c.Metadata.Name);
            var differ = plan.NodeConfigs.Where(c => NodeHaConfigReconciler.SpecHash(cached[c.Spec.NodeName].Spec) != NodeHaConfigReconciler.SpecHash(c.Spec))
                .Select(c => c.Spec).ToList();
            var (statusGroups, statusPools) = StatusKeys.Changed(last, plan);
            changeWall.Add(clock.Elapsed.TotalMilliseconds);
            changeCpu.Add((ThreadCpu() - cpuBefore).TotalMilliseconds);
            var differing = differ.Select(s => s.NodeName).ToHashSet(StringComparer.Ordinal);
            if (!differing.SetEquals(change.AffectedNodes))
                throw new InvalidOperationException($"change {k} ({change.Description}): planned {differing.Count} changed node(s), expected {change.AffectedNodes.Count}");
            written += differ.Count;
            statusKeys += statusGroups.Count + statusPools.Count;
            var writes = differ.ToDictionary(s => s.NodeName, StringComparer.Ordinal);
            snapshot = snapshot with { Configs = snapshot.Configs.Select(c => writes.TryGetValue(c.Metadata.Name, out var w) ? Cached(w) : c).ToList() };
            last = plan;
        }

        string Stat(List<double> v) => string.Create(CultureInfo.InvariantCulture,
            $"median {Report.Percentile(v, 50):F1} ms, p99 {Report.Percentile(v, 99):F1} ms, max {v.Max():F1} ms");
        return $"plan cost ({options.Nodes} nodes, {options.Groups} groups, {options.Pools} pools), thread CPU and wall clock, first round included:\n" +
               $"  full plan ({rounds} rounds: input, Planner.Plan, every node's spec compared): CPU {Stat(fullCpu)}; wall {Stat(fullWall)}\n" +
               $"  per change ({rounds} changes: input through PlanInputCache, incremental Planner.Plan, every node's spec compared, status keys): " +
               $"CPU {Stat(changeCpu)}; wall {Stat(changeWall)}\n" +
               $"    of which the input (PlanInputCache, allocations in force, heard routers): CPU {Stat(phaseInput)}; Planner.Plan: CPU {Stat(phasePlan)}\n" +
               $"  {written} node specs changed over {rounds} changes (each exactly the change's affected nodes), {statusKeys} status keys queued";
    }

    private static NodeHaConfigResource Cached(NodeHaConfigSpec spec) => new()
    {
        Metadata = new V1ObjectMeta { Name = spec.NodeName, Generation = 1 },
        Spec = KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(spec)), // as the informer would hold it
    };

    /// <summary>The snapshot with the changed object replaced by a new one (as an informer delivers an update).</summary>
    private static ClusterSnapshot Apply(ClusterSnapshot snapshot, ScaleModel model, ScaleChange change)
    {
        var index = int.Parse(change.Name[(change.Name.LastIndexOf('-') + 1)..], CultureInfo.InvariantCulture);
        if (change.Kind == VirtualIpGroup.KindName)
        {
            var group = model.Group(index);
            group.Metadata.Generation = 2;
            return snapshot with { Groups = snapshot.Groups.Select(g => g.Metadata.Name == change.Name ? group : g).ToList() };
        }
        var pool = model.Pool(index);
        return snapshot with { Pools = snapshot.Pools.Select(p => p.Metadata.Name == change.Name ? pool : p).ToList() };
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NvCsw, NivCsw;
    }

    [DllImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static extern int GetRUsage(int who, out RUsage usage);

    private static TimeSpan ThreadCpu()
    {
        const int RusageThread = 1;
        if (GetRUsage(RusageThread, out var usage) != 0) throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        return TimeSpan.FromMicroseconds((usage.UserSeconds + usage.SystemSeconds) * 1_000_000 + usage.UserMicroseconds + usage.SystemMicroseconds);
    }
}
