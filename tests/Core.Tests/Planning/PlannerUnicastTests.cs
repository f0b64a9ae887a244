using NginxHa.Core.Resources;
using static NginxHa.Core.Tests.Planning.PlanBuilder;
using Mode = NginxHa.Core.Resources.VirtualIpGroupMode;

namespace NginxHa.Core.Tests.Planning;

public class PlannerUnicastTests
{
    private static List<Node> DualStackNodes() =>
    [
        Node("lb1", "198.18.0.1", "fd00::1"),
        Node("lb2", "fd00::2", "198.18.0.2", "198.18.0.22"),
        Node("lb3", "198.18.0.3"),
    ];

    [Fact]
    public void UnicastPeersAreTheOtherNodesFirstInternalIPOfTheSameFamily()
    {
        var group = Group("web", Mode.ActiveActive, "198.18.1.10", "fd00::10");
        group.Spec.Vrrp.Unicast = true;

        var result = Plan([group], DualStackNodes());

        var lb1 = result.ConfigFor("lb1").Spec.VrrpInstances;
        Assert.Equal(["198.18.0.2", "198.18.0.3"], lb1.Single(i => i.Name == "edge/web/0").UnicastPeers);
        Assert.Equal(["fd00::2"], lb1.Single(i => i.Name == "edge/web/1").UnicastPeers);
        Assert.Equal(["198.18.0.1", "198.18.0.3"], result.ConfigFor("lb2").Spec.VrrpInstances.Single(i => i.Name == "edge/web/0").UnicastPeers);
        Assert.Equal(["edge/web/0"], result.ConfigFor("lb3").Spec.VrrpInstances.Select(i => i.Name));
    }

    [Fact]
    public void NodeWithoutAnAddressOfTheFamilyIsLeftOutAndTheGroupIsDegraded()
    {
        var group = Group("web", Mode.ActiveActive, "198.18.1.10", "fd00::10");
        group.Spec.Vrrp.Unicast = true;

        var result = Plan([group], DualStackNodes());

        var degraded = result.GroupFor("edge/web").Condition(ConditionTypes.Degraded);
        Assert.Equal((ConditionStatus.True, "NoUnicastAddress"), (degraded.Status, degraded.Reason));
        Assert.Equal("node lb3 has no IPv6 InternalIP for unicast adverts, so it does not carry edge/web/1", degraded.Message);
        Assert.Equal(["lb2", "lb1"], result.GroupFor("edge/web").Instances[1].Nodes);
    }

    [Fact]
    public void MulticastGroupsHaveNoPeersAndKeepEveryNode()
    {
        var result = Plan([Group("web", Mode.ActiveActive, "198.18.1.10", "fd00::10")], DualStackNodes());

        Assert.All(result.NodeConfigs.SelectMany(c => c.Spec.VrrpInstances), i => Assert.Empty(i.UnicastPeers));
        Assert.All(result.GroupFor("edge/web").Instances, i => Assert.Equal(3, i.Nodes.Count));
        Assert.Equal(ConditionStatus.False, result.GroupFor("edge/web").Condition(ConditionTypes.Degraded).Status);
    }

    [Fact]
    public void UnicastActivePassiveOnTwoNodesPointsEachAtTheOther()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.10");
        group.Spec.Vrrp.Unicast = true;

        var result = Plan([group], Nodes(2));

        Assert.Equal(["198.18.0.2"], result.ConfigFor("n1").Spec.VrrpInstances[0].UnicastPeers);
        Assert.Equal(["198.18.0.1"], result.ConfigFor("n2").Spec.VrrpInstances[0].UnicastPeers);
        Assert.All(result.NodeConfigs, c => Assert.Empty(((IValidatable)c).Validate()));
    }
}
