using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Core.Tests.Manifests;
using static NginxHa.Core.Tests.Planning.PlanBuilder;
using Mode = NginxHa.Core.Resources.VirtualIpGroupMode;

namespace NginxHa.Core.Tests.Planning;

public class PlannerTests
{
    [Theory]
    [InlineData(1, "n1:254")]
    [InlineData(2, "n1:254 n2:253")]
    [InlineData(3, "n1:254 n2:253 n3:252")]
    [InlineData(5, "n1:254 n2:253 n3:252 n4:251 n5:250")]
    public void ActivePassiveIsOneInstanceWithTheFirstNodePreferred(int nodeCount, string expectedPriorities)
    {
        var result = Plan([Group("web", Mode.ActivePassive, "198.18.1.1", "198.18.1.2/24")], Nodes(nodeCount));

        var instance = Assert.Single(result.GroupFor("edge/web").Instances);
        Assert.Equal("edge/web/0", instance.Name);
        Assert.Equal(["198.18.1.1/32", "198.18.1.2/24"], instance.VirtualIPs);
        Assert.Equal(expectedPriorities, string.Join(" ", instance.Nodes.Select(n => $"{n}:{instance.PriorityOf(n)}")));
        Assert.All(result.NodeConfigs, c => Assert.Equal(instance.PriorityOf(c.Spec.NodeName), Assert.Single(c.Spec.VrrpInstances).Priority));
        Assert.Equal(nodeCount == 1 ? ConditionStatus.True : ConditionStatus.False, result.GroupFor("edge/web").Condition(ConditionTypes.Degraded).Status);
    }

    [Theory]
    [InlineData(1, 2, "n1,n1")]
    [InlineData(2, 2, "n1,n2")]
    [InlineData(2, 4, "n1,n2,n1,n2")]
    [InlineData(3, 2, "n1,n2")]
    [InlineData(3, 4, "n1,n2,n3,n1")]
    [InlineData(5, 4, "n1,n2,n3,n4")]
    [InlineData(5, 7, "n1,n2,n3,n4,n5,n1,n2")]
    public void ActiveActivePrefersVipIOnNodeIModN(int nodeCount, int vipCount, string expectedMasters)
    {
        var vips = Enumerable.Range(10, vipCount).Select(i => $"198.18.1.{i}").ToArray();

        var result = Plan([Group("web", Mode.ActiveActive, vips)], Nodes(nodeCount));

        Assert.Equal(expectedMasters, Masters(result, "edge/web"));
        Assert.Equal(Homes(vips.Select(v => $"edge/web|{v}").ToArray()), Vrids(result, "edge/web"));
        foreach (var instance in result.GroupFor("edge/web").Instances)
        {
            Assert.Equal(nodeCount, instance.Nodes.Count);
            Assert.Equal(Enumerable.Range(0, nodeCount).Select(p => 254 - p), instance.Nodes.Select(instance.PriorityOf));
        }
    }

    [Fact]
    public void ActiveActiveBackupsFollowInRotationAfterThePreferredMaster()
    {
        var result = Plan([Group("web", Mode.ActiveActive, "198.18.1.10", "198.18.1.11", "198.18.1.12")], Nodes(3));

        Assert.Equal(
            ["n1,n2,n3", "n2,n3,n1", "n3,n1,n2"],
            result.GroupFor("edge/web").Instances.Select(i => string.Join(",", i.Nodes)));
    }

    [Fact]
    public void Seed000DualMasterGivesEachNodeOneMasterAndOneBackupInstance()
    {
        var set = ManifestLoader.LoadFiles([TestData.PathOf("seed-000-dual-master.yaml")]);

        var result = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));

        Assert.Empty(result.Errors);
        var lb1 = result.ConfigFor("lb1").Spec;
        var lb2 = result.ConfigFor("lb2").Spec;
        Assert.Equal(["edge/web/0:51:254", "edge/web/1:52:253"], lb1.VrrpInstances.Select(i => $"{i.Name}:{i.VirtualRouterId}:{i.Priority}"));
        Assert.Equal(["edge/web/0:51:253", "edge/web/1:52:254"], lb2.VrrpInstances.Select(i => $"{i.Name}:{i.VirtualRouterId}:{i.Priority}"));
        var first = lb1.VrrpInstances[0];
        Assert.Equal(("eth0", 2, "1s", true, "0s"), (first.Interface, first.Version, first.AdvertisementInterval, first.Preempt, first.PreemptDelay));
        Assert.Equal(["198.18.1.8/24"], first.VirtualIPs);
        Assert.Empty(first.UnicastPeers);
        Assert.Equal(("edge", "vrrp-auth", "password"), (first.AuthSecretRef!.Namespace, first.AuthSecretRef.Name, first.AuthSecretRef.Key));
        Assert.Equal(["edge/web"], lb1.BackendPools.Select(p => p.Name));
        Assert.Same(set.NginxBackendPools[0].Spec, lb2.BackendPools[0].Spec);
        Assert.Equal(ConditionStatus.True, result.GroupFor("edge/web").Condition(ConditionTypes.Ready).Status);
        Assert.All(result.NodeConfigs, c => Assert.Empty(((IValidatable)c).Validate()));
    }

    [Fact]
    public void Seed001HotStandbyGetsAnAllocatedVridAndMasterBackupPriorities()
    {
        var set = ManifestLoader.LoadFiles([TestData.PathOf("seed-001-hot-standby.yaml")]);

        var result = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));

        Assert.Empty(result.Errors);
        Assert.Empty(result.Warnings);
        var a = Assert.Single(result.ConfigFor("nginx-a").Spec.VrrpInstances);
        var b = Assert.Single(result.ConfigFor("nginx-b").Spec.VrrpInstances);
        var home = Planner.HomeVirtualRouterId("default/standby");
        Assert.Equal(("default/standby/0", home, 254, 3, "5s"), (a.Name, a.VirtualRouterId, a.Priority, a.Version, a.PreemptDelay));
        Assert.Equal((home, 253), (b.VirtualRouterId, b.Priority));
        Assert.Equal(["198.18.16.130/32"], b.VirtualIPs);
        Assert.Empty(result.ConfigFor("nginx-a").Spec.BackendPools);
    }

    [Fact]
    public void IntervalsAreWrittenInCanonicalForm()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.Vrrp.AdvertisementInterval = "0.25s";
        group.Spec.Vrrp.PreemptDelay = "1m30s";

        var instance = Plan([group], Nodes(2)).ConfigFor("n1").Spec.VrrpInstances[0];

        Assert.Equal(("250ms", "90s"), (instance.AdvertisementInterval, instance.PreemptDelay));
    }

    [Fact]
    public void InputOrderDoesNotChangeThePlan()
    {
        VirtualIpGroup[] groups = [Group("b", Mode.ActiveActive, "198.18.1.1", "198.18.1.2"), Group("a", Mode.ActivePassive, "198.18.2.1")];
        var nodes = Nodes(3);

        var forward = Plan(groups, nodes);
        var backward = Plan(groups.Reverse(), Enumerable.Reverse(nodes));

        Assert.Equal(Describe(forward), Describe(backward));
        Assert.Equal(Homes("edge/a"), Vrids(forward, "edge/a"));
        Assert.Equal(Homes("edge/b|198.18.1.1", "edge/b|198.18.1.2"), Vrids(forward, "edge/b"));
    }

    [Fact]
    public void NodesOnlyGetThePoolsOfGroupsTheyServe()
    {
        var web = Group("web", Mode.ActivePassive, "198.18.1.1");
        web.Spec.BackendPoolRef = "web";
        web.Spec.NodeSelector.MatchLabels["zone"] = "a";
        var api = Group("api", Mode.ActivePassive, "198.18.1.2");
        api.Spec.BackendPoolRef = "api";
        var nodes = Nodes(2);
        nodes[0].Metadata.Labels["zone"] = "a";

        var result = Plan([web, api], nodes, [Pool("web"), Pool("api"), Pool("unused")]);

        Assert.Equal(["edge/api", "edge/web"], result.ConfigFor("n1").Spec.BackendPools.Select(p => p.Name));
        Assert.Equal(["edge/api"], result.ConfigFor("n2").Spec.BackendPools.Select(p => p.Name));
    }

    [Fact]
    public void MissingBackendPoolStillPlansTheVipsButIsNotReady()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.BackendPoolRef = "web";

        var result = Plan([group], Nodes(2));

        var ready = result.GroupFor("edge/web").Condition(ConditionTypes.Ready);
        Assert.Equal((ConditionStatus.False, "BackendPoolNotFound"), (ready.Status, ready.Reason));
        Assert.Single(result.GroupFor("edge/web").Instances);
        Assert.Equal(["VirtualIpGroup edge/web: spec.backendPoolRef: NginxBackendPool \"web\" not found: the virtual IPs are planned but nothing serves them"],
            result.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void NodeSelectorMatchingNoNodeLeavesTheGroupUnplannedWithACondition()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.NodeSelector.MatchLabels["role"] = "nothing";

        var result = Plan([group], Nodes(2));

        Assert.Empty(result.GroupFor("edge/web").Instances);
        var ready = result.GroupFor("edge/web").Condition(ConditionTypes.Ready);
        Assert.Equal((ConditionStatus.False, "NoNodesSelected"), (ready.Status, ready.Reason));
        Assert.All(result.NodeConfigs, c => Assert.Empty(c.Spec.VrrpInstances));
        Assert.Equal(["VirtualIpGroup edge/web: spec.nodeSelector matches no node, so no node carries the virtual IPs"], result.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void InvalidGroupGetsNoInstancesAndItsErrors()
    {
        var bad = Group("bad", Mode.ActivePassive, "198.18.0.300", "fd00::1");
        var good = Group("good", Mode.ActivePassive, "198.18.1.1");

        var result = Plan([bad, good], Nodes(2));

        Assert.Empty(result.GroupFor("edge/bad").Instances);
        var ready = result.GroupFor("edge/bad").Condition(ConditionTypes.Ready);
        Assert.Equal((ConditionStatus.False, "InvalidSpec"), (ready.Status, ready.Reason));
        Assert.Equal("the spec is invalid: spec.virtualIPs[0]: \"198.18.0.300\" is not an IP address", ready.Message);
        Assert.Equal(["VirtualIpGroup edge/bad: spec.virtualIPs[0]: \"198.18.0.300\" is not an IP address"], result.Errors.Select(e => e.ToString()));
        Assert.Equal(Homes("edge/good"), Vrids(result, "edge/good"));
    }

    [Fact]
    public void EveryInputNodeGetsAConfigEvenWhenItServesNothing()
    {
        var nodes = Nodes(3);
        nodes[2].Metadata.Labels.Clear();

        var result = Plan([Group("web", Mode.ActivePassive, "198.18.1.1")], nodes);

        Assert.Equal(["n1", "n2", "n3"], result.NodeConfigs.Select(c => c.Metadata.Name));
        Assert.Empty(result.ConfigFor("n3").Spec.VrrpInstances);
        Assert.Equal("n3", result.ConfigFor("n3").Spec.NodeName);
    }

    private static string Describe(PlanResult result) =>
        string.Join("\n", result.NodeConfigs.SelectMany(c => c.Spec.VrrpInstances.Select(i =>
            $"{c.Spec.NodeName} {i.Name} vrid={i.VirtualRouterId} prio={i.Priority} vips={string.Join(",", i.VirtualIPs)} peers={string.Join(",", i.UnicastPeers)}")));
}
