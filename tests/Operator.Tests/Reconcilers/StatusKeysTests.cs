using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

public class StatusKeysTests
{
    private static GroupPlan Group(string name, string[] nodes, string ready = "Planned") =>
        new(name, [new PlannedInstance($"{name}/0", name, 51, ["198.18.0.201/32"], nodes)],
            [new Condition { Type = "Ready", Status = ready == "Planned" ? "True" : "False", Reason = ready, Message = ready }]);

    private static NodeHaConfig Config(string node, params string[] pools)
    {
        var config = new NodeHaConfig { Metadata = new ObjectMeta { Name = node } };
        config.Spec.NodeName = node;
        config.Spec.BackendPools.AddRange(pools.Select(p => new BackendPoolConfig { Name = p }));
        return config;
    }

    private static PlanResult Plan(GroupPlan[] groups, params NodeHaConfig[] configs) => new(configs, groups, [], [], []);

    private static PlanResult Base() => Plan(
        [Group("edge/a", ["lb1", "lb2"]), Group("edge/b", ["lb2", "lb1"])],
        Config("lb1", "edge/pa", "edge/pb"), Config("lb2", "edge/pa", "edge/pb"));

    [Fact]
    public void The_first_plan_queues_every_group_and_pool()
    {
        var (groups, pools) = StatusKeys.Changed(null, Base());
        Assert.Equal(["edge/a", "edge/b"], groups);
        Assert.Equal(["edge/pa", "edge/pb"], pools);
    }

    [Fact]
    public void An_unchanged_plan_queues_nothing()
    {
        var (groups, pools) = StatusKeys.Changed(Base(), Base());
        Assert.Empty(groups);
        Assert.Empty(pools);
    }

    [Fact]
    public void Only_the_group_whose_nodes_or_conditions_changed_is_queued()
    {
        var moved = Plan([Group("edge/a", ["lb2", "lb1"]), Group("edge/b", ["lb2", "lb1"])], Config("lb1", "edge/pa", "edge/pb"), Config("lb2", "edge/pa", "edge/pb"));
        Assert.Equal(["edge/a"], StatusKeys.Changed(Base(), moved).Groups);
        var failed = Plan([Group("edge/a", ["lb1", "lb2"]), Group("edge/b", ["lb2", "lb1"], ready: "BackendPoolNotFound")], Config("lb1", "edge/pa", "edge/pb"), Config("lb2", "edge/pa", "edge/pb"));
        Assert.Equal(["edge/b"], StatusKeys.Changed(Base(), failed).Groups);
    }

    [Fact]
    public void A_group_gone_from_the_plan_and_a_pool_that_lost_a_node_are_queued()
    {
        var next = Plan([Group("edge/a", ["lb1", "lb2"])], Config("lb1", "edge/pa", "edge/pb"), Config("lb2", "edge/pa"));
        var (groups, pools) = StatusKeys.Changed(Base(), next);
        Assert.Equal(["edge/b"], groups);
        Assert.Equal(["edge/pb"], pools);
    }

    [Fact]
    public void A_pool_no_node_carries_any_more_is_queued()
    {
        var next = Plan([Group("edge/a", ["lb1", "lb2"]), Group("edge/b", ["lb2", "lb1"])], Config("lb1", "edge/pa"), Config("lb2", "edge/pa"));
        Assert.Equal(["edge/pb"], StatusKeys.Changed(Base(), next).Pools);
    }
}
