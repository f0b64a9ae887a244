using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

public class GroupStatusBuilderTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);

    private static VirtualIpGroupResource Group(long generation = 3, VirtualIpGroupStatus? status = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "edge", Generation = generation },
        Spec = new VirtualIpGroupSpec { Mode = VirtualIpGroupMode.ActiveActive, VirtualIPs = ["198.18.0.201", "198.18.0.202"] },
        Status = status,
    };

    private static GroupPlan Plan(params Condition[] overrides)
    {
        Condition C(string type, string status, string reason) => overrides.FirstOrDefault(o => o.Type == type)
            ?? new Condition { Type = type, Status = status, Reason = reason, Message = reason };
        return new GroupPlan("edge/web",
            [new PlannedInstance("edge/web/0", "edge/web", 51, ["198.18.0.201/32"], ["lb1", "lb2"]),
             new PlannedInstance("edge/web/1", "edge/web", 52, ["198.18.0.202/32"], ["lb2", "lb1"])],
            [C("Ready", "True", "Planned"), C("Degraded", "False", "Redundant"), C("Conflict", "False", "NoConflict")]);
    }

    private static NodeReport Report(string node, params (string Instance, VrrpInstanceState State)[] states) =>
        new(node, true, null, 7, new NodeHaConfigStatus
        {
            ObservedGeneration = 7,
            Instances = states.Select(s => new VrrpInstanceStatus { Name = s.Instance, State = s.State, LastTransitionTime = T0 }).ToList(),
        });

    private static Condition Of(VirtualIpGroupStatus status, string type) => status.Conditions.Single(c => c.Type == type);

    [Fact]
    public void Every_VIP_gets_its_master_backups_and_VRID_and_Ready_says_MasterElected()
    {
        var status = GroupStatusBuilder.Build(Group(), Plan(),
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Backup)),
             Report("lb2", ("edge/web/0", VrrpInstanceState.Backup), ("edge/web/1", VrrpInstanceState.Master))], true, T0);

        Assert.Equal(["198.18.0.201 51 lb1 [lb2]", "198.18.0.202 52 lb2 [lb1]"],
            status.VirtualIPs.Select(v => $"{v.Address} {v.Vrid} {v.MasterNode} [{string.Join(",", v.BackupNodes)}]"));
        Assert.Equal("lb1,lb2", status.Masters); // kubectl get's Masters column
        Assert.Equal(("True", "MasterElected"), (Of(status, "Ready").Status, Of(status, "Ready").Reason));
        Assert.Equal(("False", "Redundant"), (Of(status, "Degraded").Status, Of(status, "Degraded").Reason));
        Assert.All(status.Conditions, c => Assert.Equal(3, c.ObservedGeneration));
        Assert.All(status.Conditions, c => Assert.Equal(T0, c.LastTransitionTime));
        Assert.All(status.VirtualIPs, v => Assert.Equal(0, v.Transitions)); // the first election is no transition
    }

    [Fact]
    public void LastTransitionTime_of_a_condition_moves_only_when_its_status_flips()
    {
        var healthy = GroupStatusBuilder.Build(Group(), Plan(),
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Backup)),
             Report("lb2", ("edge/web/0", VrrpInstanceState.Backup), ("edge/web/1", VrrpInstanceState.Master))], true, T0);

        // Ten minutes later the master of web/0 moves (still one master): nothing flips.
        var moved = GroupStatusBuilder.Build(Group(status: healthy), Plan(),
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Fault), ("edge/web/1", VrrpInstanceState.Fault)),
             Report("lb2", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master))], true, T0.AddMinutes(10));
        Assert.All(moved.Conditions, c => Assert.Equal(T0, c.LastTransitionTime));
        Assert.Equal("lb2", moved.VirtualIPs[0].MasterNode);
        Assert.Equal(1, moved.VirtualIPs[0].Transitions);
        Assert.Equal(0, moved.VirtualIPs[1].Transitions);

        // Then both claim web/1: Ready flips to False with MultipleMasters, at the new time; the others keep theirs.
        var split = GroupStatusBuilder.Build(Group(status: moved), Plan(),
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Backup), ("edge/web/1", VrrpInstanceState.Master)),
             Report("lb2", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master))], true, T0.AddMinutes(20));
        Assert.Equal(("False", "MultipleMasters"), (Of(split, "Ready").Status, Of(split, "Ready").Reason));
        Assert.Contains("edge/web/1 (lb1, lb2)", Of(split, "Ready").Message);
        Assert.Equal(T0.AddMinutes(20), Of(split, "Ready").LastTransitionTime);
        Assert.Equal(T0, Of(split, "Conflict").LastTransitionTime);
        Assert.Null(split.VirtualIPs[1].MasterNode);
        Assert.Equal("lb2,-", split.Masters);
    }

    [Fact]
    public void A_node_applying_a_newer_config_keeps_its_last_report_and_is_not_NodeNotReporting()
    {
        var applying = Report("lb2", ("edge/web/0", VrrpInstanceState.Backup), ("edge/web/1", VrrpInstanceState.Master)) with { Generation = 8, Applying = true };
        var status = GroupStatusBuilder.Build(Group(),
            Plan(), [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Backup)), applying], true, T0);

        Assert.Equal(("False", "Redundant"), (Of(status, "Degraded").Status, Of(status, "Degraded").Reason));
        Assert.Equal(("True", "MasterElected"), (Of(status, "Ready").Status, Of(status, "Ready").Reason));
        Assert.Equal("lb1,lb2", status.Masters);
    }

    [Fact]
    public void A_node_applying_a_config_with_an_instance_it_never_reported_is_not_counted_as_not_reporting()
    {
        var applying = Report("lb2", ("edge/web/0", VrrpInstanceState.Backup)) with { Generation = 8, Applying = true };
        var redundant = new VirtualIpGroupStatus { Conditions = [new Condition { Type = "Degraded", Status = "False", Reason = "Redundant", Message = "before" }] };
        var status = GroupStatusBuilder.Build(Group(status: redundant),
            Plan(), [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master)), applying], true, T0);

        Assert.Equal(("False", "Redundant"), (Of(status, "Degraded").Status, Of(status, "Degraded").Reason)); // held, not flapped
        Assert.Equal("MasterElected", Of(status, "Ready").Reason);
        // Once the grace is over the same report is stale.
        var late = GroupStatusBuilder.Build(Group(),
            Plan(), [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master)), applying with { Applying = false }], true, T0);
        Assert.Equal(("True", "NodeNotReporting"), (Of(late, "Degraded").Status, Of(late, "Degraded").Reason));
    }

    [Fact]
    public void A_first_status_while_a_node_applies_a_config_it_never_reported_is_NodeNotReporting_not_Redundant()
    {
        var applying = new NodeReport("lb2", true, null, 1, null, Applying: true);
        var status = GroupStatusBuilder.Build(Group(),
            Plan(), [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master)), applying], true, T0);

        Assert.Equal(("True", "NodeNotReporting"), (Of(status, "Degraded").Status, Of(status, "Degraded").Reason));
        Assert.Contains("lb2", Of(status, "Degraded").Message);
    }

    [Fact]
    public void A_node_without_a_report_for_the_current_config_is_NodeNotReporting_and_no_report_means_NoMaster()
    {
        var stale = Report("lb2", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master)) with { Generation = 8 };
        var status = GroupStatusBuilder.Build(Group(), Plan(), [Report("lb1"), stale], true, T0);
        Assert.Equal(("False", "NoMaster"), (Of(status, "Ready").Status, Of(status, "Ready").Reason));
        Assert.Equal(("True", "NodeNotReporting"), (Of(status, "Degraded").Status, Of(status, "Degraded").Reason));
        Assert.Contains("lb1, lb2", Of(status, "Degraded").Message);
    }

    private static Heartbeat Beat(string node, TimeSpan sinceRenewal) => new(node, T0 - sinceRenewal, TimeSpan.FromSeconds(6));

    [Fact]
    public void A_node_whose_heartbeat_expired_is_NodeNotReporting_its_stale_MASTER_is_not_counted_and_the_survivor_alone_is_master()
    {
        // lb1 was SIGKILLed as MASTER of VIP 1: its report still says MASTER; lb2 took VIP 1 over.
        Heartbeat? lb1Beat = Beat("lb1", TimeSpan.FromSeconds(7));
        NodeReport[] Reports() =>
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Backup)) with { Heartbeat = lb1Beat },
             Report("lb2", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master)) with { Heartbeat = Beat("lb2", TimeSpan.FromSeconds(1)) }];
        var status = GroupStatusBuilder.Build(Group(), Plan(), Reports(), true, T0);

        Assert.Equal("lb2,lb2", status.Masters);
        Assert.Equal(["198.18.0.201 lb2 []", "198.18.0.202 lb2 []"], status.VirtualIPs.Select(v => $"{v.Address} {v.MasterNode} [{string.Join(",", v.BackupNodes)}]"));
        Assert.Equal(("True", "MasterElected"), (Of(status, "Ready").Status, Of(status, "Ready").Reason));
        var degraded = Of(status, "Degraded");
        Assert.Equal(("True", "NodeNotReporting"), (degraded.Status, degraded.Reason));
        Assert.Equal("heartbeat expired, last report not counted: lb1 (Lease nginx-ha-agent-lb1 not renewed within 6 s)", degraded.Message);

        // Just inside its lease (renewed 5.9 s ago of 6 s) the same reports are a split brain, as they would be without a heartbeat.
        lb1Beat = Beat("lb1", TimeSpan.FromSeconds(5.9));
        var fresh = GroupStatusBuilder.Build(Group(), Plan(), Reports(), true, T0);
        Assert.Equal(("False", "MultipleMasters"), (Of(fresh, "Ready").Status, Of(fresh, "Ready").Reason));
        Assert.Equal(("False", "Redundant"), (Of(fresh, "Degraded").Status, Of(fresh, "Degraded").Reason));
        lb1Beat = null; // no Lease known for the node: its report counts as it is
        Assert.Equal("MultipleMasters", Of(GroupStatusBuilder.Build(Group(), Plan(), Reports(), true, T0), "Ready").Reason);

        // Expiry is judged at `now`, to the tick: 6 s after the last renewal seen it has expired.
        lb1Beat = Beat("lb1", TimeSpan.FromSeconds(6));
        Assert.Equal("MasterElected", Of(GroupStatusBuilder.Build(Group(), Plan(), Reports(), true, T0), "Ready").Reason);
    }

    [Fact]
    public void When_the_agent_comes_back_its_renewed_heartbeat_counts_its_report_again_and_Degraded_clears()
    {
        var dead = GroupStatusBuilder.Build(Group(), Plan(),
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Master)) with { Heartbeat = Beat("lb1", TimeSpan.FromMinutes(5)) },
             Report("lb2", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Master))], true, T0);
        Assert.Equal("NodeNotReporting", Of(dead, "Degraded").Reason);

        var later = T0 + TimeSpan.FromSeconds(30);
        var back = GroupStatusBuilder.Build(Group(status: dead), Plan(),
            [Report("lb1", ("edge/web/0", VrrpInstanceState.Master), ("edge/web/1", VrrpInstanceState.Backup)) with { Heartbeat = new Heartbeat("lb1", later, TimeSpan.FromSeconds(6)) },
             Report("lb2", ("edge/web/0", VrrpInstanceState.Backup), ("edge/web/1", VrrpInstanceState.Master))], true, later);
        Assert.Equal("lb1,lb2", back.Masters);
        Assert.Equal(("False", "Redundant"), (Of(back, "Degraded").Status, Of(back, "Degraded").Reason));
        Assert.Equal(later, Of(back, "Degraded").LastTransitionTime);
        Assert.Equal(1, back.VirtualIPs[0].Transitions); // lb2 -> lb1
    }

    [Theory]
    [InlineData("VirtualRouterIdConflict", "Conflict", "VridConflict")]
    [InlineData("VirtualIpConflict", "Conflict", "VipConflict")]
    [InlineData("BackendPoolNotFound", "Ready", "PoolMissing")]
    public void Planner_reasons_appear_under_the_documented_names(string plannerReason, string type, string expected)
    {
        var bad = new Condition { Type = type, Status = type == "Ready" ? "False" : "True", Reason = plannerReason, Message = "m" };
        var status = GroupStatusBuilder.Build(Group(), Plan(bad), [], true, T0);
        Assert.Equal(expected, Of(status, type).Reason);
    }

    [Fact]
    public void A_missing_auth_Secret_is_SecretMissing_naming_it()
    {
        var group = Group();
        group.Spec.Vrrp = new VrrpSettings { Version = 2, AuthSecretRef = new SecretKeySelector { Name = "vrrp-auth", Key = "password" } };
        var status = GroupStatusBuilder.Build(group, Plan(), [], authSecretPresent: false, T0);
        Assert.Equal(("False", "SecretMissing"), (Of(status, "Ready").Status, Of(status, "Ready").Reason));
        Assert.Contains("edge/vrrp-auth", Of(status, "Ready").Message);
    }
}

public class GroupEventsTests
{
    private static VirtualIpGroupStatus Status(params (string Address, string? Master, long Transitions)[] vips) =>
        new() { VirtualIPs = vips.Select(v => new VirtualIpStatus { Address = v.Address, MasterNode = v.Master, Transitions = v.Transitions }).ToList() };

    [Fact]
    public void A_new_master_transition_is_news_an_election_or_a_loss_is_left_to_the_conditions()
    {
        // .201 moved lb1 -> lb2; .202 unchanged; .203 got its master back after a status without one (a failover seen in
        // two steps); .204 lost its master; .205 was elected for the first time (no transition).
        var before = Status(("198.18.0.201", "lb1", 0), ("198.18.0.202", "lb2", 1), ("198.18.0.203", null, 0), ("198.18.0.204", "lb1", 0), ("198.18.0.205", null, 0));
        var after = Status(("198.18.0.201", "lb2", 1), ("198.18.0.202", "lb2", 1), ("198.18.0.203", "lb1", 1), ("198.18.0.204", null, 0), ("198.18.0.205", "lb1", 0));
        Assert.Equal(["198.18.0.201: MASTER is now lb2 (was lb1)", "198.18.0.203: MASTER is now lb1"], GroupEvents.MasterChanges(before, after));
        Assert.Empty(GroupEvents.MasterChanges(null, after));
    }

    [Fact]
    public void Nginx_rejections_name_the_groups_nodes_and_their_errors_only()
    {
        var plan = new GroupPlan("edge/web", [new PlannedInstance("edge/web/0", "edge/web", 51, ["198.18.0.201/32"], ["lb1", "lb2"])], []);
        NodeReport Report(string node, NginxState state, string? error) =>
            new(node, true, null, 1, new NodeHaConfigStatus { ObservedGeneration = 1, Nginx = new NginxStatus { State = state, LastError = error } });
        Assert.Null(GroupEvents.NginxRejections(plan, [Report("lb1", NginxState.Running, null), Report("lb2", NginxState.Running, null)]));
        Assert.Equal("nginx refused the config on lb2: nginx: [emerg] bad",
            GroupEvents.NginxRejections(plan, [Report("lb1", NginxState.Running, null), Report("lb2", NginxState.Running, "nginx: [emerg] bad"),
                Report("lb9", NginxState.Failed, "another group's node")]));
    }
}
