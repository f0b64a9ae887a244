using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

public class FirstPlanGateTests
{
    [Fact]
    public void Keys_are_held_from_the_start_of_a_term_until_the_first_plan_and_handed_back_once_each()
    {
        var gate = new FirstPlanGate();
        Assert.False(gate.TryHold("vipg:edge/a")); // no term yet: nothing waits

        gate.Close();
        Assert.True(gate.TryHold("vipg:edge/a"));
        Assert.True(gate.TryHold("nbp:edge/p"));
        Assert.True(gate.TryHold("vipg:edge/a"));

        Assert.Equal(["nbp:edge/p", "vipg:edge/a"], gate.Open().Order(StringComparer.Ordinal));
        Assert.False(gate.TryHold("vipg:edge/b")); // after the first plan keys run at once
        Assert.Empty(gate.Open());
    }

    [Fact]
    public void A_new_term_holds_again()
    {
        var gate = new FirstPlanGate();
        gate.Close();
        gate.Open();
        gate.Close();
        Assert.True(gate.TryHold("vipg:edge/a"));
        Assert.Equal(["vipg:edge/a"], gate.Open());
    }
}
