using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using static NginxHa.Core.Tests.Planning.PlanBuilder;
using Mode = NginxHa.Core.Resources.VirtualIpGroupMode;

namespace NginxHa.Core.Tests.Planning;

/// <summary>
/// VRIDs never renumber (issue 12, section 2), over random sequences of group additions, removals and renames.
/// Enough instances (up to about 60) that hashed homes collide often, so probing is exercised on every run.
/// Seeds are fixed: a failure names its seed and step and replays exactly.
/// </summary>
public class PlannerVridPropertyTests
{
    private sealed record GroupSpec(string Name, Mode Mode, string[] Vips)
    {
        public VirtualIpGroup ToGroup() => Group(Name, Mode, Vips);
    }

    /// <summary>One node applying a sequence of file sets: it remembers the VRIDs of its own last plan, as the agent does.</summary>
    private sealed class PlanningNode(Random order)
    {
        private IReadOnlyList<VrrpAllocation> _memory = [];

        public PlanResult Apply(IReadOnlyList<GroupSpec> groups, IReadOnlyList<HeardVirtualRouter>? heard = null)
        {
            var shuffled = groups.Select(g => g.ToGroup()).OrderBy(_ => order.Next()).ToList();
            var nodes = Nodes(3).OrderBy(_ => order.Next()).ToList();
            var result = Planner.Plan(new PlanInput(shuffled, [], nodes, _memory, heard));
            _memory = VrrpAllocation.VirtualRouterIdsOnly(result.Allocations);
            return result;
        }
    }

    /// <summary>"edge/g7|198.18.3.4" -> VRID, for every planned instance, keyed by what identifies it across plans.</summary>
    private static Dictionary<string, int> VridsByInstance(PlanResult result) =>
        result.Groups.SelectMany(g => g.Instances).ToDictionary(i => $"{i.Name}|{string.Join(",", i.VirtualIPs)}", i => i.VirtualRouterId);

    private static List<HeardVirtualRouter> WhatTheWireCarries(PlanResult result) =>
        result.Groups.SelectMany(g => g.Instances)
            .Select(i => new HeardVirtualRouter("IPv4", i.VirtualRouterId, i.VirtualIPs.Select(v => v.Split('/')[0]).ToList()))
            .ToList();

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)]
    [InlineData(6)] [InlineData(7)] [InlineData(8)] [InlineData(9)] [InlineData(10)]
    public void ExistingInstancesKeepTheirVridAndNodesApplyingTheSameFilesInAnyOrderAgree(int seed)
    {
        var random = new Random(seed);
        var nodeA = new PlanningNode(new Random(seed * 1000 + 1));
        var nodeB = new PlanningNode(new Random(seed * 1000 + 2));
        PlanningNode? late = null;
        var groups = new List<GroupSpec>();
        var nextName = 0;
        var nextVip = 0;
        string NewVip() { nextVip++; return $"198.18.{2 + nextVip / 250}.{1 + nextVip % 250}"; }
        string NewName() => $"g{nextName++}-{random.Next(1000)}";
        PlanResult? lastA = null;
        var probed = 0;

        for (var step = 0; step < 150; step++)
        {
            var what = groups.Count < 4 ? 0 : random.Next(groups.Count > 35 ? 1 : 0, 4);
            var where = $"seed {seed}, step {step}";
            switch (what)
            {
                case 0 or 1: // add (twice as likely as the others while small)
                    var mode = random.Next(2) == 0 ? Mode.ActivePassive : Mode.ActiveActive;
                    groups.Add(new GroupSpec(NewName(), mode, Enumerable.Range(0, random.Next(1, 4)).Select(_ => NewVip()).ToArray()));
                    break;
                case 2: // remove
                    groups.RemoveAt(random.Next(groups.Count));
                    break;
                default: // rename: the same VIPs under a new name (a new instance; the old one is removed)
                    var index = random.Next(groups.Count);
                    groups[index] = groups[index] with { Name = NewName() };
                    break;
            }

            var a = nodeA.Apply(groups);
            var b = nodeB.Apply(groups);
            Assert.True(a.Errors.Count == 0, $"{where}: {string.Join("; ", a.Errors)}");

            var now = VridsByInstance(a);
            Assert.True(now.Values.Distinct().Count() == now.Count, $"{where}: two instances share a VRID");
            Assert.True(now.OrderBy(p => p.Key).SequenceEqual(VridsByInstance(b).OrderBy(p => p.Key)), $"{where}: nodes A and B disagree");
            if (lastA is not null)
                foreach (var (instance, vrid) in VridsByInstance(lastA).Where(p => now.ContainsKey(p.Key)))
                    Assert.True(now[instance] == vrid, $"{where}: {instance} moved from VRID {vrid} to {now[instance]}");
            probed += a.Groups.SelectMany(g => g.Instances).Count(i => !IsHome(i));

            // A node that joins (or restarts with no memory) partway, once the others run the current files, hears
            // them on its first plan and agrees from then on.
            if (step == 75) late = new PlanningNode(new Random(seed * 1000 + 3));
            if (late is not null)
            {
                var joined = late.Apply(groups, WhatTheWireCarries(a));
                Assert.True(now.OrderBy(p => p.Key).SequenceEqual(VridsByInstance(joined).OrderBy(p => p.Key)), $"{where}: the late node disagrees");
            }
            lastA = a;
        }

        Assert.True(probed > 0, $"seed {seed}: no instance was ever off its home VRID, so probing went untested");
    }

    private static bool IsHome(PlannedInstance instance)
    {
        var group = instance.Group;
        return instance.VirtualRouterId == Planner.HomeVirtualRouterId(group)
               || instance.VirtualIPs.Any(v => instance.VirtualRouterId == Planner.HomeVirtualRouterId($"{group}|{v.Split('/')[0]}"));
    }

    [Fact]
    public void WithoutMemoryAGroupAddedInFrontWouldTakeAnExistingVrid()
    {
        // Why nodes remember: find a new group whose home is an existing group's, and sorts first.
        var existing = Group("web", Mode.ActivePassive, "198.18.1.1");
        var home = Planner.HomeVirtualRouterId("edge/web");
        var rival = Enumerable.Range(0, 100_000).Select(i => $"a{i}").First(n => Planner.HomeVirtualRouterId($"edge/{n}") == home);
        var first = Plan([existing], Nodes(2));

        var forgetful = Plan([existing, Group(rival, Mode.ActivePassive, "198.18.1.2")], Nodes(2));
        var remembering = Plan([existing, Group(rival, Mode.ActivePassive, "198.18.1.2")], Nodes(2),
            previous: VrrpAllocation.VirtualRouterIdsOnly(first.Allocations));

        Assert.Equal($"{home}", Vrids(first, "edge/web"));
        Assert.Equal($"{Next(home)}", Vrids(forgetful, "edge/web"));
        Assert.Equal($"{home}", Vrids(remembering, "edge/web"));
        Assert.Equal($"{Next(home)}", Vrids(remembering, $"edge/{rival}"));
    }

    [Fact]
    public void AutomaticVridSkipsOneHeardFromAForeignRouter()
    {
        var home = Planner.HomeVirtualRouterId("edge/web");
        var heard = new[] { new HeardVirtualRouter("IPv4", home, ["198.18.9.9"]) };

        var result = Planner.Plan(new PlanInput([Group("web", Mode.ActivePassive, "198.18.1.1")], [], Nodes(2), null, heard));

        Assert.Equal($"{Next(home)}", Vrids(result, "edge/web"));
        Assert.Equal(ConditionStatus.False, result.GroupFor("edge/web").Condition(ConditionTypes.Conflict).Status);
    }

    [Fact]
    public void ForeignRouterOnTheOtherFamilyDoesNotCount()
    {
        var home = Planner.HomeVirtualRouterId("edge/web");
        var heard = new[] { new HeardVirtualRouter("IPv6", home, ["fd00::9"]) };

        var result = Planner.Plan(new PlanInput([Group("web", Mode.ActivePassive, "198.18.1.1")], [], Nodes(2), null, heard));

        Assert.Equal($"{home}", Vrids(result, "edge/web"));
    }

    [Fact]
    public void OurOwnIPv6PeerHeardWithItsAddedLinkLocalAddressIsNotForeignAndItsVridIsAdopted()
    {
        // The agent adds fe80::200:5eff:fe00:2XX in front of an IPv6 list (RFC 5798 section 5.2.9): the peer's adverts carry
        // it, and the group does not list it. Counted as foreign, the group would move off the VRID its peer runs.
        var home = Planner.HomeVirtualRouterId("edge/web6");
        var heard = new[] { new HeardVirtualRouter("IPv6", home, [VirtualRouterLinkLocal.For((byte)home).ToString(), "fd00::100"]) };

        var fresh = Planner.Plan(new PlanInput([Group("web6", Mode.ActivePassive, "fd00::100/64")], [], Nodes(2), null, heard));

        Assert.Equal($"{home}", Vrids(fresh, "edge/web6"));
        Assert.Equal(ConditionStatus.False, fresh.GroupFor("edge/web6").Condition(ConditionTypes.Conflict).Status);

        var adopted = Planner.Plan(new PlanInput([Group("web6", Mode.ActivePassive, "fd00::100/64")], [], Nodes(2), null,
            [new HeardVirtualRouter("IPv6", 77, [VirtualRouterLinkLocal.For(77).ToString(), "fd00::100"])]));
        Assert.Equal("77", Vrids(adopted, "edge/web6"));
    }

    [Fact]
    public void InstanceAdoptsTheVridHeardWithExactlyItsVips()
    {
        var heard = new[] { new HeardVirtualRouter("IPv4", 200, ["198.18.1.2", "198.18.1.1"]) };

        var result = Planner.Plan(new PlanInput([Group("web", Mode.ActivePassive, "198.18.1.1/24", "198.18.1.2/24")], [], Nodes(2), null, heard));

        Assert.Equal("200", Vrids(result, "edge/web"));
    }

    [Fact]
    public void ExplicitVridHeardFromAForeignRouterWinsAndIsReportedAsAConflict()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.VirtualRouterIds = [51];
        var heard = new[] { new HeardVirtualRouter("IPv4", 51, ["198.18.9.9"]) };

        var result = Planner.Plan(new PlanInput([group], [], Nodes(2), null, heard));

        Assert.Equal("51", Vrids(result, "edge/web"));
        var conflict = result.GroupFor("edge/web").Condition(ConditionTypes.Conflict);
        Assert.Equal((ConditionStatus.True, "VirtualRouterIdHeard"), (conflict.Status, conflict.Reason));
        Assert.Equal(["VirtualIpGroup edge/web: spec.virtualRouterIds[0]: VRID 51 of edge/web/0 (IPv4 on the default interface) is also heard on the wire from another virtual router: addresses 198.18.9.9"],
            result.Warnings.Select(w => w.ToString()));
    }

    [Fact]
    public void OurOwnPeerHeardOnTheVridIsNoConflictButTheSameVipsWithAnotherVersionOrAuthenticationIs()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.VirtualRouterIds = [51];
        HeardVirtualRouter Heard(int version, VrrpAuthenticationType auth) => new("IPv4", 51, ["198.18.1.1"], version, auth, "eth0", "lb2");

        var peer = Planner.Plan(new PlanInput([group], [], Nodes(2), null, [Heard(3, VrrpAuthenticationType.None)]));
        var oldKeepalived = Planner.Plan(new PlanInput([group], [], Nodes(2), null, [Heard(2, VrrpAuthenticationType.None)]));
        var withPassword = Planner.Plan(new PlanInput([group], [], Nodes(2), null, [Heard(3, VrrpAuthenticationType.SimpleText)]));

        Assert.Equal(ConditionStatus.False, peer.GroupFor("edge/web").Condition(ConditionTypes.Conflict).Status);
        Assert.Equal("VRID 51 of edge/web/0 (IPv4 on the default interface) is also heard on the wire from another virtual router: " +
                     "VRRPv2, auth None, addresses 198.18.1.1, heard by node lb2 on eth0",
            oldKeepalived.GroupFor("edge/web").Condition(ConditionTypes.Conflict).Message);
        Assert.Equal("VirtualRouterIdHeard", withPassword.GroupFor("edge/web").Condition(ConditionTypes.Conflict).Reason);
        Assert.Equal("51", Vrids(oldKeepalived, "edge/web")); // never renumbered for what is heard
    }

    [Fact]
    public void ConflictNamesEachRouterOnceWithEveryNodeThatHeardIt()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.VirtualRouterIds = [51];
        var heard = new[]
        {
            new HeardVirtualRouter("IPv4", 51, ["198.18.9.9", "198.18.9.8"], 2, VrrpAuthenticationType.SimpleText, "eth0", "lb2"),
            new HeardVirtualRouter("IPv4", 51, ["198.18.9.8", "198.18.9.9"], 2, VrrpAuthenticationType.SimpleText, "eth0", "lb1"),
        };

        var conflict = Planner.Plan(new PlanInput([group], [], Nodes(2), null, heard)).GroupFor("edge/web").Condition(ConditionTypes.Conflict);

        Assert.EndsWith("another virtual router: VRRPv2, auth SimpleText, addresses 198.18.9.8, 198.18.9.9, heard by node lb1, lb2 on eth0", conflict.Message);
    }

    [Fact]
    public void RouterCarryingAnotherGroupsVipsOnThisGroupsVridIsAConflictOfThisGroupOnly()
    {
        var a = Group("a", Mode.ActivePassive, "198.18.1.1");
        a.Spec.VirtualRouterIds = [51];
        var b = Group("b", Mode.ActivePassive, "198.18.1.2");
        b.Spec.VirtualRouterIds = [52];
        // b's addresses, on a's VRID: b's master before it moved, or someone else's copy of b.
        var heard = new[] { new HeardVirtualRouter("IPv4", 51, ["198.18.1.2"], 3, VrrpAuthenticationType.None, "eth0", "lb1") };

        var result = Planner.Plan(new PlanInput([a, b], [], Nodes(2), null, heard));

        Assert.Equal(ConditionStatus.True, result.GroupFor("edge/a").Condition(ConditionTypes.Conflict).Status);
        Assert.Equal(ConditionStatus.False, result.GroupFor("edge/b").Condition(ConditionTypes.Conflict).Status);
        Assert.Equal((1, 0), (result.GroupFor("edge/a").InstancesHeardFromOthers, result.GroupFor("edge/b").InstancesHeardFromOthers));
    }

    [Fact]
    public void RouterHeardOnAnotherInterfaceThanTheGroupsIsNoConflict()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        group.Spec.VirtualRouterIds = [51];
        group.Spec.Interface = "eth0";
        HeardVirtualRouter On(string iface) => new("IPv4", 51, ["198.18.9.9"], 3, VrrpAuthenticationType.None, iface, "lb1");

        Assert.Equal(ConditionStatus.False, Planner.Plan(new PlanInput([group], [], Nodes(2), null, [On("eth1")]))
            .GroupFor("edge/web").Condition(ConditionTypes.Conflict).Status);
        Assert.Equal(ConditionStatus.True, Planner.Plan(new PlanInput([group], [], Nodes(2), null, [On("eth0")]))
            .GroupFor("edge/web").Condition(ConditionTypes.Conflict).Status);
    }

    [Fact]
    public void RememberedVridHeardFromAForeignRouterIsKeptAndReported()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        var first = Plan([group], Nodes(2));
        var vrid = first.GroupFor("edge/web").Instances[0].VirtualRouterId;

        var result = Planner.Plan(new PlanInput([group], [], Nodes(2), VrrpAllocation.VirtualRouterIdsOnly(first.Allocations),
            [new HeardVirtualRouter("IPv4", vrid, ["198.18.9.9"])]));

        Assert.Equal($"{vrid}", Vrids(result, "edge/web"));
        Assert.Equal("VirtualRouterIdHeard", result.GroupFor("edge/web").Condition(ConditionTypes.Conflict).Reason);
    }

    [Fact]
    public void RememberingOnlyVridsDoesNotPinThePreferredMaster()
    {
        var group = Group("web", Mode.ActivePassive, "198.18.1.1");
        var first = Plan([group], Nodes(3).Skip(1)); // n2, n3: n2 is preferred

        var second = Plan([group], Nodes(3), previous: VrrpAllocation.VirtualRouterIdsOnly(first.Allocations));

        Assert.Equal("n2", Masters(first, "edge/web"));
        Assert.Equal("n1", Masters(second, "edge/web"));
    }
}
