using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using static NginxHa.Core.Tests.Planning.PlanBuilder;
using Mode = NginxHa.Core.Resources.VirtualIpGroupMode;

namespace NginxHa.Core.Tests.Planning;

public class PlannerVridTests
{
    private static VirtualIpGroup WithVrids(VirtualIpGroup group, params int[] ids)
    {
        group.Spec.VirtualRouterIds = ids.ToList();
        return group;
    }

    private static VirtualIpGroup OnInterface(VirtualIpGroup group, string name)
    {
        group.Spec.Interface = name;
        return group;
    }

    [Fact]
    public void AutomaticVridsStartAtTheHashOfTheirNameAndProbePastExplicitOnes()
    {
        var homeOfA = Planner.HomeVirtualRouterId("edge/a");
        var result = Plan(
        [
            Group("c", Mode.ActiveActive, "198.18.1.5", "198.18.1.6"),
            WithVrids(Group("b", Mode.ActivePassive, "198.18.1.4"), homeOfA),
            Group("a", Mode.ActivePassive, "198.18.1.3"),
        ], Nodes(2));

        Assert.Equal($"{Next(homeOfA)}", Vrids(result, "edge/a"));
        Assert.Equal($"{homeOfA}", Vrids(result, "edge/b"));
        Assert.Equal(Homes("edge/c|198.18.1.5", "edge/c|198.18.1.6"), Vrids(result, "edge/c"));
        Assert.Empty(result.Errors);
    }

    [Fact]
    public void ProbeSequenceVisitsEveryVridOnceFromTheHome()
    {
        var probe = Planner.ProbeSequence("edge/web").ToList();

        Assert.Equal(Planner.HomeVirtualRouterId("edge/web"), probe[0]);
        Assert.Equal(Enumerable.Range(1, 255), probe.Order());
        Assert.All(probe.Zip(probe.Skip(1)), p => Assert.Equal(Next(p.First), p.Second));
    }

    [Fact]
    public void HomeVridIsFnv1aOfTheNameSoEveryVersionAgrees()
    {
        // FNV-1a 32 of "edge/web" is 0x0b9acabd (an independent Python implementation of the published algorithm).
        Assert.Equal(47, Planner.HomeVirtualRouterId("edge/web"));
        Assert.Equal((int)(2166136261u % 255) + 1, Planner.HomeVirtualRouterId(""));
    }

    [Fact]
    public void ExplicitVridOnTheSameSegmentConflictsAndTheLaterGroupGetsNothing()
    {
        var result = Plan(
        [
            WithVrids(Group("web", Mode.ActiveActive, "198.18.1.8", "198.18.1.9"), 51, 52),
            WithVrids(Group("api", Mode.ActivePassive, "198.18.1.20"), 52),
        ], Nodes(2));

        var api = result.GroupFor("edge/api");
        var web = result.GroupFor("edge/web");
        Assert.Single(api.Instances);
        Assert.Empty(web.Instances);
        Assert.Equal((ConditionStatus.True, "VirtualRouterIdConflict"), (api.Condition(ConditionTypes.Conflict).Status, api.Condition(ConditionTypes.Conflict).Reason));
        Assert.Equal(ConditionStatus.True, api.Condition(ConditionTypes.Ready).Status);
        Assert.Equal(ConditionStatus.True, web.Condition(ConditionTypes.Conflict).Status);
        Assert.Equal(
            "gets no VRRP instances: VRID 52 (IPv4 on the default interface) is already claimed by VirtualIpGroup edge/api, which sorts first",
            web.Condition(ConditionTypes.Ready).Message);
        Assert.Equal(
        [
            "VirtualIpGroup edge/api: spec.virtualRouterIds[0]: VRID 52 (IPv4 on the default interface) is also claimed by VirtualIpGroup edge/web",
            "VirtualIpGroup edge/web: spec.virtualRouterIds[1]: VRID 52 (IPv4 on the default interface) is also claimed by VirtualIpGroup edge/api",
        ], result.Errors.Select(e => e.ToString()));
        Assert.All(result.NodeConfigs, c => Assert.Equal(["edge/api/0"], c.Spec.VrrpInstances.Select(i => i.Name)));
    }

    [Fact]
    public void LoserOfOneConflictDoesNotBlockAThirdGroup()
    {
        var result = Plan(
        [
            WithVrids(Group("a", Mode.ActivePassive, "198.18.1.1"), 51),
            WithVrids(Group("b", Mode.ActiveActive, "198.18.1.2", "198.18.1.3"), 51, 52),
            WithVrids(Group("c", Mode.ActivePassive, "198.18.1.4"), 52),
        ], Nodes(2));

        Assert.Equal("51", Vrids(result, "edge/a"));
        Assert.Equal("", Vrids(result, "edge/b"));
        Assert.Equal("52", Vrids(result, "edge/c"));
        Assert.Equal(ConditionStatus.True, result.GroupFor("edge/c").Condition(ConditionTypes.Conflict).Status);
    }

    [Theory]
    [InlineData("eth0", "eth1", "198.18.1.2", false)]  // different interfaces: different segments
    [InlineData("eth0", "eth0", "198.18.1.2", true)]
    [InlineData("", "", "fd00::2", false)]             // IPv4 and IPv6 virtual routers are distinct (RFC 5798 7.3)
    [InlineData("", "", "198.18.1.2", true)]
    public void SameVridIsAConflictOnlyOnTheSameSegmentAndFamily(string firstInterface, string secondInterface, string secondVip, bool conflict)
    {
        var first = WithVrids(Group("a", Mode.ActivePassive, "198.18.1.1"), 7);
        var second = WithVrids(Group("b", Mode.ActivePassive, secondVip), 7);
        if (firstInterface.Length > 0) OnInterface(first, firstInterface);
        if (secondInterface.Length > 0) OnInterface(second, secondInterface);

        var result = Plan([first, second], Nodes(2));

        Assert.Equal(conflict ? "" : "7", Vrids(result, "edge/b"));
        Assert.Equal(conflict ? ConditionStatus.True : ConditionStatus.False, result.GroupFor("edge/a").Condition(ConditionTypes.Conflict).Status);
    }

    [Fact]
    public void AutomaticVridsPreferOnesFreeOnEverySegment()
    {
        var home = Planner.HomeVirtualRouterId("edge/b");
        var result = Plan(
        [
            OnInterface(WithVrids(Group("a", Mode.ActivePassive, "198.18.1.1"), home), "eth1"),
            Group("b", Mode.ActivePassive, "198.18.1.2"),
        ], Nodes(2));

        Assert.Equal($"{Next(home)}", Vrids(result, "edge/b"));
    }

    [Fact]
    public void ExplicitVridEvictsAnAutomaticOneWithAWarning()
    {
        var auto = Group("auto", Mode.ActivePassive, "198.18.1.1");
        var first = Plan([auto], Nodes(2));

        var home = Planner.HomeVirtualRouterId("edge/auto");
        var second = Plan([auto, WithVrids(Group("fixed", Mode.ActivePassive, "198.18.1.2"), home)], Nodes(2), previous: first.Allocations);

        Assert.Equal($"{home}", Vrids(first, "edge/auto"));
        Assert.Equal($"{Next(home)}", Vrids(second, "edge/auto"));
        Assert.Equal($"{home}", Vrids(second, "edge/fixed"));
        Assert.Empty(second.Errors);
        Assert.Equal([$"VirtualIpGroup edge/auto: spec.virtualRouterIds: VRRP instance edge/auto/0 leaves VRID {home} (IPv4 on the default interface), which edge/fixed/0 now claims; a new VRID is allocated"],
            second.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void SameVirtualIpInTwoGroupsIsAConflict()
    {
        var result = Plan(
        [
            Group("a", Mode.ActivePassive, "198.18.1.1/24"),
            Group("b", Mode.ActiveActive, "198.18.1.2", "198.18.1.1"),
        ], Nodes(2));

        Assert.Single(result.GroupFor("edge/a").Instances);
        Assert.Empty(result.GroupFor("edge/b").Instances);
        Assert.Equal("VirtualIpConflict", result.GroupFor("edge/b").Condition(ConditionTypes.Ready).Reason);
        Assert.Equal(
        [
            "VirtualIpGroup edge/a: spec.virtualIPs[0]: virtual IP 198.18.1.1 is also claimed by VirtualIpGroup edge/b",
            "VirtualIpGroup edge/b: spec.virtualIPs[1]: virtual IP 198.18.1.1 is also claimed by VirtualIpGroup edge/a",
        ], result.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void RunningOutOfVridsIsReportedNotWrapped()
    {
        var many = Group("many", Mode.ActiveActive, Enumerable.Range(0, 255).Select(i => $"198.18.{2 + i / 200}.{1 + i % 200}").ToArray());
        var oneMore = Group("more", Mode.ActivePassive, "198.18.10.1");

        var result = Plan([many, oneMore], Nodes(2));

        Assert.Equal(255, result.GroupFor("edge/many").Instances.Select(i => i.VirtualRouterId).Distinct().Count());
        var ready = result.GroupFor("edge/more").Condition(ConditionTypes.Ready);
        Assert.Equal(("NoFreeVirtualRouterId", "no VRID is free for edge/more/0 (IPv4 on the default interface): all 255 are in use or heard on the wire"), (ready.Reason, ready.Message));
    }
}
