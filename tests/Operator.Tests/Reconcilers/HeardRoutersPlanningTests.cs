using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>
/// The routers the agents report in NodeHaConfig status, through the cluster snapshot into the planner and the group
/// status: automatic VRIDs avoid foreign ones, a group on a foreign router's VRID gets Conflict/VridConflict, and our
/// own instances heard by their backups are no conflict.
/// </summary>
public class HeardRoutersPlanningTests
{
    static readonly DateTimeOffset T0 = new(2026, 12, 2, 14, 0, 0, TimeSpan.Zero);

    static VirtualIpGroupResource Group(string name, string vip, int? vrid = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "edge", Generation = 1 },
        Spec = new VirtualIpGroupSpec
        {
            Mode = VirtualIpGroupMode.ActivePassive, VirtualIPs = [vip],
            VirtualRouterIds = vrid is { } id ? [id] : null,
        },
    };

    static V1Node Node(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = "True" }] },
    };

    static HeardRouterStatus Heard(int vrid, string address, int version = 3, VrrpAuthenticationType auth = VrrpAuthenticationType.None) => new()
    {
        Interface = "eth0", Source = "198.18.0.5", Family = "IPv4", VirtualRouterId = vrid, Version = version, Addresses = [address], Priority = 100, AuthType = auth, LastHeard = T0,
    };

    static NodeHaConfigResource Config(string node, NodeHaConfigSpec? spec = null, params HeardRouterStatus[] heard) => new()
    {
        Metadata = new V1ObjectMeta { Name = node, Generation = 1 },
        Spec = spec ?? new NodeHaConfigSpec { NodeName = node },
        Status = new NodeHaConfigStatus { ObservedGeneration = 1, HeardRouters = [.. heard] },
    };

    static ClusterSnapshot Snapshot(IReadOnlyList<VirtualIpGroupResource> groups, params NodeHaConfigResource[] configs) =>
        new(groups, [], [Node("lb1"), Node("lb2")], [], [], configs, new Dictionary<string, Heartbeat>());

    static Condition ConflictOf(VirtualIpGroupResource group, PlanResult plan) =>
        GroupStatusBuilder.Build(group, plan.GroupFor(Kinds.Key(group.Metadata)), [], true, T0).Conditions.Single(c => c.Type == ConditionTypes.Conflict);

    [Fact]
    public void A_new_group_whose_home_VRID_a_foreign_router_uses_gets_another_and_no_conflict()
    {
        var group = Group("web", "198.18.0.201");
        var home = Planner.HomeVirtualRouterId("edge/web");

        var plan = Planner.Plan(Snapshot([group], Config("lb1"), Config("lb2", null, Heard(home, "198.18.0.99"))).ToPlanInput());

        var vrid = plan.GroupFor("edge/web").Instances.Single().VirtualRouterId;
        Assert.NotEqual(home, vrid);
        Assert.Equal(home % 255 + 1, vrid);
        Assert.Equal(("False", "NoConflict"), (ConflictOf(group, plan).Status, ConflictOf(group, plan).Reason));
    }

    [Fact]
    public void A_group_with_an_explicit_VRID_a_foreign_router_uses_keeps_it_and_gets_VridConflict_naming_the_VRID_the_VIPs_and_the_node()
    {
        var group = Group("web", "198.18.0.201", vrid: 42);

        var plan = Planner.Plan(Snapshot([group], Config("lb1", null, Heard(42, "198.18.0.99", version: 2)), Config("lb2")).ToPlanInput());

        Assert.Equal(42, plan.GroupFor("edge/web").Instances.Single().VirtualRouterId);
        var conflict = ConflictOf(group, plan);
        Assert.Equal(("True", GroupReasons.VridConflict), (conflict.Status, conflict.Reason));
        Assert.Equal("VRID 42 of edge/web/0 (IPv4 on the default interface) is also heard on the wire from another virtual router: " +
                     "VRRPv2, auth None, addresses 198.18.0.99, from 198.18.0.5, heard by node lb1 on eth0", conflict.Message);
    }

    [Fact]
    public void Our_own_instance_heard_by_its_backup_is_no_conflict_and_its_running_VRID_is_never_renumbered()
    {
        var group = Group("web", "198.18.0.201");
        var first = Planner.Plan(Snapshot([group], Config("lb1"), Config("lb2")).ToPlanInput());
        var configs = first.NodeConfigs.ToDictionary(c => c.Spec.NodeName, c => c.Spec);
        var vrid = first.GroupFor("edge/web").Instances.Single().VirtualRouterId;

        // lb2 (backup) hears lb1's adverts; later a foreign router appears on the same VRID: the instance stays put.
        var ours = Planner.Plan(Snapshot([group], Config("lb1", configs["lb1"]), Config("lb2", configs["lb2"], Heard(vrid, "198.18.0.201"))).ToPlanInput());
        var foreign = Planner.Plan(Snapshot([group], Config("lb1", configs["lb1"], Heard(vrid, "198.18.0.99")),
            Config("lb2", configs["lb2"], Heard(vrid, "198.18.0.201"))).ToPlanInput());

        Assert.Equal(vrid, ours.GroupFor("edge/web").Instances.Single().VirtualRouterId);
        Assert.Equal("False", ConflictOf(group, ours).Status);
        Assert.Equal(vrid, foreign.GroupFor("edge/web").Instances.Single().VirtualRouterId);
        Assert.Equal(GroupReasons.VridConflict, ConflictOf(group, foreign).Reason);
        Assert.Contains("heard by node lb1", ConflictOf(group, foreign).Message);
    }

    [Fact]
    public void Only_a_change_of_who_is_heard_re_plans_not_a_new_priority_or_time()
    {
        var before = new NodeHaConfigStatus { HeardRouters = [Heard(42, "198.18.0.99")] };
        var later = new NodeHaConfigStatus { HeardRouters = [Heard(42, "198.18.0.99")] };
        later.HeardRouters[0].LastHeard = T0.AddMinutes(1);
        later.HeardRouters[0].Priority = 0;
        var other = new NodeHaConfigStatus { HeardRouters = [Heard(42, "198.18.0.98")] };
        var v2 = new NodeHaConfigStatus { HeardRouters = [Heard(42, "198.18.0.99", version: 2)] };

        Assert.Equal(ClusterSnapshot.HeardRoutersKey(before), ClusterSnapshot.HeardRoutersKey(later));
        Assert.NotEqual(ClusterSnapshot.HeardRoutersKey(before), ClusterSnapshot.HeardRoutersKey(other));
        Assert.NotEqual(ClusterSnapshot.HeardRoutersKey(before), ClusterSnapshot.HeardRoutersKey(v2));
        Assert.NotEqual(ClusterSnapshot.HeardRoutersKey(before), ClusterSnapshot.HeardRoutersKey(new NodeHaConfigStatus()));
    }
}
