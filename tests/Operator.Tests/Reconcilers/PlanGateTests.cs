using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

public class PlanGateTests
{
    private static readonly Dictionary<string, PlanStamp> Nothing = new();
    private static readonly PlanStamp V1 = new(1, false);
    private static readonly Dictionary<string, PlanStamp> AandBatV1 = new() { ["vipg:edge/a"] = V1, ["vipg:edge/b"] = V1, ["nbp:edge/p"] = V1 };

    [Fact]
    public void Keys_are_held_from_the_start_of_a_term_until_the_first_plan_and_handed_back_once_each()
    {
        var gate = new PlanGate();
        Assert.False(gate.TryHold("vipg:edge/a", null, () => false)); // no term yet: nothing waits

        gate.Close();
        Assert.True(gate.TryHold("vipg:edge/a", V1, () => false));
        Assert.True(gate.TryHold("nbp:edge/p", V1, () => false));
        Assert.True(gate.TryHold("vipg:edge/a", V1, () => false));

        Assert.Equal(["nbp:edge/p", "vipg:edge/a"], gate.Open(AandBatV1).Order(StringComparer.Ordinal));
        Assert.False(gate.TryHold("vipg:edge/b", V1, () => false)); // after the first plan, with no plan pending, keys run at once
        Assert.Empty(gate.Open(AandBatV1));
    }

    [Fact]
    public void A_new_term_holds_again()
    {
        var gate = new PlanGate();
        gate.Close();
        gate.Open(Nothing);
        gate.Close();
        Assert.True(gate.TryHold("vipg:edge/a", null, () => false));
        Assert.Equal(["vipg:edge/a"], gate.Open(Nothing));
    }

    [Fact]
    public void While_a_plan_is_pending_keys_wait_for_it_and_a_key_it_hands_back_runs_once_even_if_the_next_plan_is_pending()
    {
        var gate = new PlanGate();
        gate.Close();
        gate.Open(AandBatV1);

        Assert.True(gate.TryHold("vipg:edge/a", V1, () => true)); // a change's plan is running: its writes go first
        Assert.True(gate.TryHold("nbp:edge/p", V1, () => true));
        Assert.Equal(["nbp:edge/p", "vipg:edge/a"], gate.Open(AandBatV1).Order(StringComparer.Ordinal));

        // The next plan is already pending: what the last one handed back runs anyway (never starved by plans in a row), once.
        Assert.False(gate.TryHold("vipg:edge/a", V1, () => true));
        Assert.True(gate.TryHold("vipg:edge/a", V1, () => true));
        Assert.False(gate.TryHold("nbp:edge/p", V1, () => false)); // no plan pending: runs, and its pass is spent
        Assert.True(gate.TryHold("nbp:edge/p", V1, () => true));
        Assert.True(gate.TryHold("vipg:edge/gone", null, () => true));
        Assert.False(gate.TryHold("vipg:edge/gone", null, () => false));
    }

    [Fact]
    public void An_object_the_last_plan_saw_older_waits_for_a_pending_plan_even_with_a_pass_and_runs_once_that_plan_has_seen_it()
    {
        var gate = new PlanGate();
        gate.Close();
        gate.Open(new Dictionary<string, PlanStamp> { ["vipg:edge/a"] = V1 });

        var edited = new PlanStamp(2, false);
        Assert.True(gate.TryHold("vipg:edge/a", edited, () => true)); // the plan with generation 2 is queued
        gate.Open(new Dictionary<string, PlanStamp> { ["vipg:edge/a"] = V1 }); // a plan that ran before the edit reached the cache
        Assert.True(gate.TryHold("vipg:edge/a", edited, () => true)); // handed back, but still not planned as it is: waits again
        Assert.Equal(["vipg:edge/a"], gate.Open(new Dictionary<string, PlanStamp> { ["vipg:edge/a"] = edited }));
        Assert.False(gate.TryHold("vipg:edge/a", edited, () => true)); // planned as it is now

        Assert.True(gate.TryHold("vipg:edge/a", new PlanStamp(2, true), () => true)); // being deleted: the plan withdraws its VIPs first
        Assert.True(gate.TryHold("vipg:edge/new", V1, () => true)); // never planned yet
        Assert.False(gate.TryHold("vipg:edge/a", new PlanStamp(3, false), () => false)); // no plan to wait for: run (never held forever)
    }
}
