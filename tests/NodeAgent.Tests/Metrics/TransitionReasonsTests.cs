using System.Net;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Tests.Vrrp;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Vrrp.VrrpState;

namespace NginxHa.NodeAgent.Tests.Metrics;

/// <summary>The reason label is bounded: every reason the real state machine gives maps to a known kind.</summary>
public sealed class TransitionReasonsTests
{
    static readonly IPAddress Self = IPAddress.Parse("198.18.0.2");
    readonly TestClock _time = new();
    readonly List<VrrpAction.StateChanged> _seen = [];

    VrrpStateMachine Machine(byte priority = 100) =>
        new(new VrrpInstanceConfig(VrrpVersion.V3, 51, priority, TimeSpan.FromMilliseconds(100), Self));

    void Record(IReadOnlyList<VrrpAction> actions) => _seen.AddRange(actions.OfType<VrrpAction.StateChanged>());

    void ToMaster(VrrpStateMachine m)
    {
        Record(m.Startup(_time.Now));
        _time.Advance(m.MasterDownInterval);
        Record(m.OnTimerFired(_time.Now));
    }

    [Fact]
    public void Every_transition_of_the_state_machine_maps_to_a_bounded_kind_listed_as_possible()
    {
        var a = Machine();
        ToMaster(a);                                                                          // startup, master down
        Record(a.OnAdvertisementReceived(_time.Now, IPAddress.Parse("198.18.0.9"), 200, TimeSpan.FromMilliseconds(100))); // higher priority
        Record(a.SetFault(_time.Now, true));                                                              // backup -> fault
        Record(a.SetFault(_time.Now, false));                                                             // fault cleared
        Record(a.Shutdown());                                                                  // backup -> initialize

        var b = Machine();
        ToMaster(b);
        Record(b.OnAdvertisementReceived(_time.Now, IPAddress.Parse("198.18.0.9"), 100, TimeSpan.FromMilliseconds(100))); // equal, higher address
        _time.Advance(b.MasterDownInterval);
        Record(b.OnTimerFired(_time.Now));
        Record(b.SetFault(_time.Now, true));                                                              // master -> fault
        Record(b.Shutdown());                                                                  // fault -> initialize

        var c = Machine();
        ToMaster(c);
        Record(c.Shutdown());                                                                  // master -> initialize

        var faulted = Machine();
        Record(faulted.SetFault(_time.Now, true));
        Record(faulted.Startup(_time.Now));                                                             // startup while faulted

        var owner = Machine(priority: 255);
        Record(owner.Startup(_time.Now));                                                               // owner: straight to master
        Record(owner.SetFault(_time.Now, true));
        Record(owner.SetFault(_time.Now, false));                                                         // fault cleared as owner

        var kinds = _seen.Select(s => (s.From, s.To, Reason: TransitionReasons.Classify(s.Reason))).ToList();
        Assert.DoesNotContain(kinds, k => k.Reason == TransitionReasons.Other);
        Assert.All(kinds, k => Assert.Contains(k, TransitionReasons.Possible));
        // And the list holds nothing the machine cannot do.
        Assert.Equal(TransitionReasons.Possible.ToHashSet(), kinds.ToHashSet());
    }

    [Fact]
    public void An_unknown_reason_is_other_never_the_text_itself()
    {
        Assert.Equal(TransitionReasons.Other, TransitionReasons.Classify("something from 203.0.113.7"));
    }
}
