using System.Text.Json;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using Mode = NginxHa.Core.Resources.VirtualIpGroupMode;

namespace NginxHa.Core.Tests.Planning;

/// <summary>
/// The incremental plan (<see cref="Planner.Plan(PlanInput, PlanResult)"/>, reusing an earlier plan's work) is the full
/// plan of the same input, byte for byte: over random clusters and random single changes (a group's VIPs, selector,
/// VRIDs, VRRP settings, interface or pool; a group added or removed; a node's labels or addresses; a node added or removed;
/// a pool edited, added or removed; the allocations in force or the routers heard), each step chained on the previous
/// incremental plan. Small address and VRID ranges make VIP and VRID conflicts, probing and unicast degradations common.
/// Seeds are fixed: a failure names its seed, step and change, and replays exactly.
/// </summary>
public class IncrementalPlanPropertyTests
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    private sealed class Cluster(Random random)
    {
        public List<Node> Nodes { get; } = new();
        public List<VirtualIpGroup> Groups { get; } = new();
        public List<NginxBackendPool> Pools { get; } = new();
        public List<HeardVirtualRouter> Heard { get; } = new();
        private int _nextNode, _nextGroup, _nextPool;

        private T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
        private string Vip() => random.Next(6) == 0 ? $"fd00:10::{random.Next(1, 8)}" : $"198.18.10.{random.Next(1, 40)}";

        public Node NewNode()
        {
            var node = new Node { Metadata = new ObjectMeta { Name = $"n{_nextNode++:D2}" } };
            FillNode(node);
            return node;
        }

        public void FillNode(Node node)
        {
            node.Metadata.Labels["rack"] = Pick(["a", "b", "c"]);
            if (random.Next(3) == 0) node.Metadata.Labels["edge"] = "true";
            var n = random.Next(1, 250);
            if (random.Next(8) != 0) node.Status.Addresses.Add(new NodeAddress { Type = NodeAddressTypes.InternalIP, Address = $"198.18.0.{n}" });
            if (random.Next(3) == 0) node.Status.Addresses.Add(new NodeAddress { Type = NodeAddressTypes.InternalIP, Address = $"fd00::{n:x}" });
        }

        public VirtualIpGroup NewGroup()
        {
            var group = new VirtualIpGroup { Metadata = new ObjectMeta { Name = $"g{_nextGroup++:D2}", Namespace = Pick(["edge", "edge", "web"]) } };
            group.Spec.Mode = random.Next(2) == 0 ? Mode.ActivePassive : Mode.ActiveActive;
            SetVips(group);
            SetSelector(group);
            group.Spec.Interface = Pick<string?>([null, "eth0", "eth1"]);
            SetVrids(group);
            SetVrrp(group);
            group.Spec.BackendPoolRef = random.Next(4) == 0 ? null : $"p{random.Next(5)}";
            return group;
        }

        public void SetVips(VirtualIpGroup group) =>
            group.Spec.VirtualIPs = Enumerable.Range(0, random.Next(1, 4)).Select(_ => Vip()).Distinct().ToList();

        public void SetSelector(VirtualIpGroup group) =>
            group.Spec.NodeSelector.MatchLabels = random.Next(5) == 0 ? new() { ["edge"] = "true" } : new() { ["rack"] = Pick(["a", "b", "c", "d"]) };

        public void SetVrids(VirtualIpGroup group)
        {
            var instances = group.Spec.Mode == Mode.ActivePassive ? 1 : group.Spec.VirtualIPs.Count;
            group.Spec.VirtualRouterIds = random.Next(4) == 0 ? Enumerable.Range(0, instances).Select(_ => random.Next(1, 8)).ToList() : null;
        }

        public void SetVrrp(VirtualIpGroup group)
        {
            group.Spec.Vrrp.Version = random.Next(4) == 0 ? 2 : 3;
            group.Spec.Vrrp.Unicast = random.Next(3) == 0;
            group.Spec.Vrrp.AdvertisementInterval = Pick(["1s", "2s", "100ms"]);
        }

        public NginxBackendPool NewPool(string? name = null)
        {
            var pool = new NginxBackendPool
            {
                ApiVersion = ApiGroup.ApiVersion, Kind = NginxBackendPool.KindName,
                Metadata = new ObjectMeta { Name = name ?? $"p{_nextPool++ % 6}", Namespace = Pick(["edge", "web"]) },
            };
            pool.Spec.Backends.Servers = Enumerable.Range(0, random.Next(1, 3))
                .Select(_ => new BackendServer { Address = $"198.18.20.{random.Next(1, 250)}", Port = 8080 }).ToList();
            return pool;
        }

        public HeardVirtualRouter NewHeard() =>
            new("IPv4", random.Next(1, 12), [Vip().Split('/')[0]], Pick<int?>([null, 2, 3]), null, Pick<string?>([null, "eth0"]), Pick(Nodes).Metadata.Name, "198.18.0.250");

        /// <summary>A copy that shares nothing with the original: the change edits the copy, never an object a plan saw.</summary>
        public static T Clone<T>(T value) => JsonSerializer.Deserialize<T>(JsonSerializer.Serialize(value, Json), Json)!;

        /// <summary>Replaces one element by an edited copy.</summary>
        public void Edit<T>(List<T> items, Action<T> edit)
        {
            var index = random.Next(items.Count);
            var copy = Clone(items[index]);
            edit(copy);
            items[index] = copy;
        }

        public PlanInput Input(IReadOnlyList<VrrpAllocation> previous) =>
            new(Groups.ToList(), Pools.ToList(), Nodes.OrderBy(_ => random.Next()).ToList(), previous, Heard.ToList());
    }

    /// <summary>One random change; returns what it did, for the failure message.</summary>
    private static string Change(Cluster cluster, Random random, ref IReadOnlyList<VrrpAllocation> previous)
    {
        switch (random.Next(18))
        {
            case 0: cluster.Edit(cluster.Groups, cluster.SetVips); return "group VIPs";
            case 1: cluster.Edit(cluster.Groups, cluster.SetSelector); return "group selector";
            case 2: cluster.Edit(cluster.Groups, cluster.SetVrids); return "group VRIDs";
            case 3: cluster.Edit(cluster.Groups, cluster.SetVrrp); return "group VRRP settings";
            case 4: cluster.Edit(cluster.Groups, g => g.Spec.Interface = g.Spec.Interface is null ? "eth1" : null); return "group interface";
            case 5: cluster.Edit(cluster.Groups, g => g.Spec.BackendPoolRef = $"p{random.Next(6)}"); return "group pool";
            case 6: cluster.Groups.Add(cluster.NewGroup()); return "group added";
            case 7 when cluster.Groups.Count > 1: cluster.Groups.RemoveAt(random.Next(cluster.Groups.Count)); return "group removed";
            case 8: cluster.Edit(cluster.Nodes, n => { n.Metadata.Labels.Clear(); n.Status.Addresses.Clear(); cluster.FillNode(n); }); return "node labels and addresses";
            case 9: cluster.Edit(cluster.Nodes, n => n.Metadata.Labels["rack"] = n.Metadata.Labels["rack"] == "a" ? "b" : "a"); return "node rack";
            case 10: cluster.Edit(cluster.Nodes, n => n.Status.Addresses.Reverse()); return "node address order";
            case 11: cluster.Nodes.Add(cluster.NewNode()); return "node added";
            case 12 when cluster.Nodes.Count > 2: cluster.Nodes.RemoveAt(random.Next(cluster.Nodes.Count)); return "node removed";
            case 13 when cluster.Pools.Count > 0: cluster.Edit(cluster.Pools, p => p.Spec.Backends.Servers.Add(new BackendServer { Address = "198.18.21.1", Port = 80 })); return "pool edited";
            case 14: cluster.Pools.Add(cluster.NewPool()); return "pool added";
            case 15 when cluster.Pools.Count > 0: cluster.Pools.RemoveAt(random.Next(cluster.Pools.Count)); return "pool removed";
            case 16 when previous.Count > 0:
                // The configs in force moved (someone edited a NodeHaConfig, or a write is not seen yet): another preferred node.
                var moved = previous.ToList();
                var index = random.Next(moved.Count);
                moved[index] = moved[index] with { PreferredNode = random.Next(3) == 0 ? "" : cluster.Nodes[random.Next(cluster.Nodes.Count)].Metadata.Name };
                if (random.Next(3) == 0) moved.RemoveAt(index);
                previous = moved;
                return "allocations in force";
            case 17:
                if (cluster.Heard.Count > 0 && random.Next(2) == 0) cluster.Heard.RemoveAt(random.Next(cluster.Heard.Count));
                else cluster.Heard.Add(cluster.NewHeard());
                return "heard routers";
            default:
                cluster.Edit(cluster.Groups, _ => { }); // the same content in a new object
                return "a group replaced by an equal copy";
        }
    }

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)]
    [InlineData(6)] [InlineData(7)] [InlineData(8)] [InlineData(9)] [InlineData(10)]
    public void AnIncrementalPlanEqualsTheFullPlanOfTheNewSnapshot(int seed)
    {
        var random = new Random(seed);
        var cluster = RandomCluster(random);
        var last = Planner.Plan(cluster.Input([]));
        IReadOnlyList<VrrpAllocation> previous = last.Allocations;
        var reused = 0;
        for (var step = 0; step < 120; step++)
        {
            var what = Change(cluster, random, ref previous);
            var input = cluster.Input(previous);
            var full = Planner.Plan(input);
            var incremental = Planner.Plan(input, last);
            AssertSamePlan(full, incremental, $"seed {seed}, step {step} ({what})");
            reused += incremental.NodeConfigs.Count(c => last.NodeConfigs.Any(o => ReferenceEquals(o, c)));
            last = incremental;
            previous = random.Next(10) == 0 ? previous : incremental.Allocations; // usually the writes land
        }
        Assert.True(reused > 0, $"seed {seed}: no node config was ever reused, so nothing was incremental");
    }

    private static Cluster RandomCluster(Random random)
    {
        var cluster = new Cluster(random);
        for (var i = random.Next(4, 10); i > 0; i--) cluster.Nodes.Add(cluster.NewNode());
        for (var i = random.Next(3, 6); i > 0; i--) cluster.Pools.Add(cluster.NewPool($"p{i}"));
        for (var i = random.Next(6, 25); i > 0; i--) cluster.Groups.Add(cluster.NewGroup());
        return cluster;
    }

    /// <summary>
    /// Reuse by reference is sound only while nothing a plan saw changes: the operator hands the planner the specs of its
    /// informer caches (tests/Operator.Tests CachedObjectsStayUnchangedTests) and the plan before. So neither a full nor an
    /// incremental plan may change its input or the plan it reuses: each serializes the same after the plans as before.
    /// </summary>
    [Theory]
    [InlineData(21)] [InlineData(22)] [InlineData(23)] [InlineData(24)] [InlineData(25)]
    public void APlanChangesNeitherItsInputNorThePlanItReuses(int seed)
    {
        var random = new Random(seed);
        var cluster = RandomCluster(random);
        var last = Planner.Plan(cluster.Input([]));
        IReadOnlyList<VrrpAllocation> previous = last.Allocations;
        for (var step = 0; step < 60; step++)
        {
            var what = Change(cluster, random, ref previous);
            var input = cluster.Input(previous);
            var (inputBefore, lastBefore) = (JsonSerializer.Serialize(input, Json), JsonSerializer.Serialize(last, Json));
            Planner.Plan(input);
            var incremental = Planner.Plan(input, last);
            Assert.True(inputBefore == JsonSerializer.Serialize(input, Json), $"seed {seed}, step {step} ({what}): the plans changed their input");
            Assert.True(lastBefore == JsonSerializer.Serialize(last, Json), $"seed {seed}, step {step} ({what}): the incremental plan changed the plan it reused");
            last = incremental;
            previous = incremental.Allocations;
        }
    }

    private static void AssertSamePlan(PlanResult full, PlanResult incremental, string where)
    {
        Assert.True(full.NodeConfigs.Count == incremental.NodeConfigs.Count, $"{where}: node count");
        foreach (var (a, b) in full.NodeConfigs.Zip(incremental.NodeConfigs))
        {
            var (fullSpec, incrementalSpec) = (JsonSerializer.Serialize(a.Spec, Json), JsonSerializer.Serialize(b.Spec, Json));
            Assert.True(fullSpec == incrementalSpec, $"{where}: node {a.Spec.NodeName}:\nfull        {fullSpec}\nincremental {incrementalSpec}");
        }
        Assert.True(JsonSerializer.Serialize(full.Groups, Json) == JsonSerializer.Serialize(incremental.Groups, Json), $"{where}: group plans differ");
        Assert.True(full.Allocations.SequenceEqual(incremental.Allocations), $"{where}: allocations differ");
        Assert.True(full.Errors.SequenceEqual(incremental.Errors), $"{where}: errors differ");
        Assert.True(full.Warnings.SequenceEqual(incremental.Warnings), $"{where}: warnings differ");
    }

    [Fact]
    public void AChangeToOneGroupRebuildsOnlyTheConfigsOfItsNodes()
    {
        var nodes = Enumerable.Range(1, 6).Select(i =>
        {
            var node = PlanBuilder.Node($"n{i}", $"198.18.0.{i}");
            node.Metadata.Labels["rack"] = i <= 3 ? "a" : "b";
            return node;
        }).ToList();
        VirtualIpGroup InRack(string name, string rack, string vip)
        {
            var group = PlanBuilder.Group(name, Mode.ActiveActive, vip);
            group.Spec.NodeSelector.MatchLabels["rack"] = rack;
            return group;
        }
        var a = InRack("a", "a", "198.18.1.1");
        var b = InRack("b", "b", "198.18.1.2");
        var start = Planner.Plan(new PlanInput([a, b], [], nodes));
        var first = Planner.Plan(new PlanInput([a, b], [], nodes, start.Allocations)); // the configs in force: the steady state

        var moved = InRack("a", "a", "198.18.1.9");
        var second = Planner.Plan(new PlanInput([moved, b], [], nodes, first.Allocations), first);

        Assert.All(["n1", "n2", "n3"], n => Assert.NotSame(first.ConfigFor(n), second.ConfigFor(n)));
        Assert.All(["n4", "n5", "n6"], n => Assert.Same(first.ConfigFor(n), second.ConfigFor(n)));
        Assert.Equal("198.18.1.9/32", second.ConfigFor("n1").Spec.VrrpInstances.Single().VirtualIPs.Single());
    }
}
