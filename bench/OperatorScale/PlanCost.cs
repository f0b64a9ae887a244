using System.Diagnostics;
using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

/// <summary>
/// The operator's CPU per plan without a cluster (operator-scale --plan-cost): the model's objects in a ClusterSnapshot with
/// every node's config in force, then per round what the plan key computes before it writes: the snapshot turned into the
/// planner's input, the plan, and the comparison of each node's planned spec with the cached one.
/// </summary>
public static class PlanCost
{
    public static string Measure(ScaleOptions options, int rounds)
    {
        var model = new ScaleModel(options);
        var groups = Enumerable.Range(0, options.Groups).Select(model.Group).ToList();
        foreach (var g in groups) g.Metadata.Generation = 1;
        var pools = Enumerable.Range(0, options.Pools).Select(model.Pool).ToList();
        var nodes = Enumerable.Range(0, options.Nodes).Select(model.Node).ToList();
        var empty = new ClusterSnapshot(groups, pools, nodes, [], [], [], new Dictionary<string, Heartbeat>());
        var configs = Planner.Plan(empty.ToPlanInput()).NodeConfigs.Select(c => new NodeHaConfigResource
        {
            Metadata = new V1ObjectMeta { Name = c.Spec.NodeName, Generation = 1 },
            Spec = KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(c.Spec)),
        }).ToList();
        var snapshot = empty with { Configs = configs };
        var (input, plan, compare, cpu) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        using var self = Process.GetCurrentProcess();
        var (validate, alloc) = (new List<double>(), new List<double>());
        for (var round = 0; round < rounds; round++)
        {
            self.Refresh();
            var cpuBefore = self.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            var planInput = snapshot.ToPlanInput();
            input.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            var result = Planner.Plan(planInput);
            plan.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            var cached = configs.ToDictionary(c => c.Metadata.Name);
            var differ = result.NodeConfigs.Count(c => !NodeHaConfigReconciler.SameSpec(cached[c.Spec.NodeName].Spec, c.Spec));
            compare.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            foreach (var g in planInput.Groups) g.Validate().ToList();
            validate.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            VrrpAllocation.FromNodeHaConfigs(configs.Select(c => new NodeHaConfig { Metadata = new ObjectMeta { Name = c.Metadata.Name }, Spec = c.Spec }));
            alloc.Add(clock.Elapsed.TotalMilliseconds);
            self.Refresh();
            cpu.Add((self.TotalProcessorTime - cpuBefore).TotalMilliseconds);
            if (differ != 0) throw new InvalidOperationException($"{differ} node(s) planned differently from the configs in force");
        }
        string Stat(List<double> v) => $"median {Report.Percentile(v, 50):F1} ms, max {v.Max():F1} ms";
        return $"plan cost over {rounds} rounds ({options.Nodes} nodes, {options.Groups} groups, {options.Pools} pools), first round included in max:\n" +
               $"  snapshot -> planner input: {Stat(input)}\n  Planner.Plan: {Stat(plan)}\n  planned vs cached specs ({configs.Count} nodes): {Stat(compare)}\n  process CPU time for all three: {Stat(cpu)}\n  validate groups {Stat(validate)}\n  allocations {Stat(alloc)}";
    }
}
