using NginxHa.Core.Planning;
using static NginxHa.Core.Tests.Planning.PlanBuilder;
using Mode = NginxHa.Core.Resources.VirtualIpGroupMode;

namespace NginxHa.Core.Tests.Planning;

/// <summary>Node churn: a plan fed its previous allocations moves only what must move.</summary>
public class PlannerStabilityTests
{
    private static readonly string[] FourVips = ["198.18.1.10", "198.18.1.11", "198.18.1.12", "198.18.1.13"];

    // before: node count of the first plan; after: node names of the second; expected masters per VIP afterwards.
    [Theory]
    [InlineData(3, 4, "n1,n2", "n1,n2,n2,n1")]          // n3 removed: only its VIP 2 moves, to n2 (n1 already has VIPs 0 and 3)
    [InlineData(3, 4, "n2,n3", "n2,n2,n3,n3")]          // n1 removed: its VIPs 0 and 3 move, one to each survivor
    [InlineData(2, 4, "n1,n2,n3", "n1,n2,n3,n2")]       // n3 added: one VIP moves to it (VIP 2, whose fresh home is n3)
    [InlineData(2, 2, "n1,n2,n3", "n1,n2")]             // n3 added to 2 VIPs on 2 nodes: balanced already, nothing moves
    [InlineData(5, 4, "n1,n2,n4,n5", "n1,n2,n5,n4")]    // n3 removed: VIP 2 to n5 (the only node without a VIP)
    [InlineData(1, 4, "n1,n2,n3,n4,n5", "n1,n2,n3,n4")] // scale out from one node: spread evenly
    public void ActiveActiveChurnMovesOnlyWhatMustMove(int before, int vipCount, string after, string expectedMasters)
    {
        var group = Group("web", Mode.ActiveActive, FourVips.Take(vipCount).ToArray());
        var first = Plan([group], Nodes(before));
        var nodesAfter = Nodes(5).Where(n => after.Split(',').Contains(n.Metadata.Name));

        var second = Plan([group], nodesAfter, previous: first.Allocations);

        Assert.Equal(expectedMasters, Masters(second, "edge/web"));
        Assert.Equal(Vrids(first, "edge/web"), Vrids(second, "edge/web"));
    }

    [Fact]
    public void RemovedNodeComingBackGetsItsVipBack()
    {
        var group = Group("web", Mode.ActiveActive, "198.18.1.10", "198.18.1.11", "198.18.1.12");
        var three = Plan([group], Nodes(3));
        var two = Plan([group], Nodes(2), previous: three.Allocations);

        var again = Plan([group], Nodes(3), previous: two.Allocations);

        Assert.Equal("n1,n2,n1", Masters(two, "edge/web"));
        Assert.Equal("n1,n2,n3", Masters(again, "edge/web"));
    }

    [Fact]
    public void ActivePassiveMasterStaysWhenANodeIsAddedBeforeIt()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        var nodes = Nodes(3).Skip(1).ToList(); // n2, n3
        var first = Plan([group], nodes);

        var second = Plan([group], Nodes(3), previous: first.Allocations);

        Assert.Equal("n2", Masters(first, "edge/web"));
        Assert.Equal("n2", Masters(second, "edge/web"));
        Assert.Equal(["n2", "n3", "n1"], second.GroupFor("edge/web").Instances[0].Nodes);
    }

    [Fact]
    public void ActivePassiveMasterRemovedMovesToTheNextAndStaysThere()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        var first = Plan([group], Nodes(3));
        var withoutN1 = Plan([group], Nodes(3).Skip(1), previous: first.Allocations);

        var n1Back = Plan([group], Nodes(3), previous: withoutN1.Allocations);

        Assert.Equal("n2", Masters(withoutN1, "edge/web"));
        Assert.Equal("n2", Masters(n1Back, "edge/web"));
    }

    [Fact]
    public void VridsAreNotRenumberedWhenAGroupBeforeThemIsDeleted()
    {
        var a = Group("a", Mode.ActivePassive, "198.18.1.1");
        var b = Group("b", Mode.ActiveActive, "198.18.1.2", "198.18.1.3");
        var first = Plan([a, b], Nodes(2));

        var second = Plan([b], Nodes(2), previous: first.Allocations);
        var third = Plan([b, Group("c", Mode.ActivePassive, "198.18.1.4")], Nodes(2), previous: second.Allocations);

        var bVrids = Homes("edge/b|198.18.1.2", "edge/b|198.18.1.3");
        Assert.Equal(bVrids, Vrids(first, "edge/b"));
        Assert.Equal(bVrids, Vrids(second, "edge/b"));
        Assert.Equal(bVrids, Vrids(third, "edge/b"));
        Assert.Equal(Homes("edge/c"), Vrids(third, "edge/c"));
    }

    [Fact]
    public void AllocationsFollowTheAddressWhenVipsAreReordered()
    {
        var before = Group("web", Mode.ActiveActive, "198.18.1.10", "198.18.1.11");
        var first = Plan([before], Nodes(2));
        var after = Group("web", Mode.ActiveActive, "198.18.1.11", "198.18.1.10");

        var second = Plan([after], Nodes(2), previous: first.Allocations);

        Assert.Equal(Homes("edge/web|198.18.1.11", "edge/web|198.18.1.10"), Vrids(second, "edge/web"));
        Assert.Equal(Vrids(first, "edge/web"), string.Join(",", Vrids(second, "edge/web").Split(',').Reverse()));
        Assert.Equal("n2,n1", Masters(second, "edge/web"));
    }

    [Fact]
    public void AllocationsRecoveredFromNodeHaConfigsEqualThePlansOwn()
    {
        var groups = new[]
        {
            Group("ap", Mode.ActivePassive, "198.18.1.1", "198.18.1.2"),
            Group("aa", Mode.ActiveActive, "198.18.2.1", "198.18.2.2", "198.18.2.3"),
        };
        var plan = Plan(groups, Nodes(3));

        var recovered = VrrpAllocation.FromNodeHaConfigs(plan.NodeConfigs);

        Assert.Equal(plan.Allocations.OrderBy(a => a.Group).ThenBy(a => a.VirtualIp), recovered);
        var next = Plan(groups, Nodes(3).Skip(1), previous: recovered);
        Assert.Equal("n2", Masters(next, "edge/ap"));
        Assert.Equal(Vrids(plan, "edge/aa"), Vrids(next, "edge/aa"));
    }
}
