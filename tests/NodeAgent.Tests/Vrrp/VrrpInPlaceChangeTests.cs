using System.Net;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>Changes RFC 5798 lets a running router make: no state change, no priority-0 advert.</summary>
public sealed class VrrpInPlaceChangeTests
{
    static readonly IPAddress Self = IPAddress.Parse("198.18.0.1");
    static readonly IPAddress Peer = IPAddress.Parse("198.18.0.2");
    readonly TestClock _time = new();

    static VrrpInstanceConfig Config(byte priority = 200, int intervalMs = 100, bool preempt = true) =>
        new(VrrpVersion.V3, 51, priority, TimeSpan.FromMilliseconds(intervalMs), Self, preempt);

    VrrpStateMachine Master(VrrpInstanceConfig config)
    {
        var machine = new VrrpStateMachine(config);
        machine.Startup(_time.Now);
        _time.Set(machine.NextTimerDue!.Value);
        machine.OnTimerFired(_time.Now);
        Assert.Equal(VrrpState.Master, machine.State);
        return machine;
    }

    [Theory]
    [InlineData(150)]
    [InlineData(254)]
    public void A_master_whose_priority_changes_announces_it_at_once_and_stays_master(byte priority)
    {
        var machine = Master(Config());
        var transitions = machine.Transitions;
        _time.Advance(TimeSpan.FromMilliseconds(30));
        var actions = machine.Reconfigure(_time.Now, Config(priority));

        Assert.Equal([new VrrpAction.SendAdvertisement(priority)], actions);
        Assert.Equal(VrrpState.Master, machine.State);
        Assert.Equal(transitions, machine.Transitions);
        Assert.Equal(_time.Now + TimeSpan.FromMilliseconds(100), machine.NextTimerDue);
    }

    [Fact]
    public void A_master_whose_interval_changes_sends_at_the_new_interval()
    {
        var machine = Master(Config());
        var actions = machine.Reconfigure(_time.Now, Config(intervalMs: 250));
        Assert.Equal([new VrrpAction.SendAdvertisement(200)], actions);
        Assert.Equal(_time.Now + TimeSpan.FromMilliseconds(250), machine.NextTimerDue);
        Assert.Equal(TimeSpan.FromMilliseconds(250), machine.MasterAdverInterval);

        _time.Advance(TimeSpan.FromMilliseconds(250));
        Assert.Equal([new VrrpAction.SendAdvertisement(200)], machine.OnTimerFired(_time.Now));
        Assert.Equal(VrrpState.Master, machine.State);
    }

    [Fact]
    public void A_master_whose_preempt_setting_changes_does_nothing_on_the_wire()
    {
        var machine = Master(Config());
        Assert.Empty(machine.Reconfigure(_time.Now, Config(preempt: false)));
        Assert.Equal(VrrpState.Master, machine.State);
    }

    [Fact]
    public void A_backup_that_stops_preempting_keeps_following_a_lower_priority_master()
    {
        var machine = new VrrpStateMachine(Config());
        machine.Startup(_time.Now);
        machine.Reconfigure(_time.Now, Config(preempt: false));
        for (int i = 0; i < 20; i++)
        {
            Assert.Empty(machine.OnAdvertisementReceived(_time.Now, Peer, 100, TimeSpan.FromMilliseconds(100)));
            _time.Advance(TimeSpan.FromMilliseconds(100));
            Assert.Empty(machine.OnTimerFired(_time.Now));
        }
        Assert.Equal(VrrpState.Backup, machine.State);
    }

    [Fact]
    public void A_backup_whose_priority_rises_above_the_master_preempts_it()
    {
        var machine = new VrrpStateMachine(Config(priority: 100));
        machine.Startup(_time.Now);
        machine.OnAdvertisementReceived(_time.Now, Peer, 150, TimeSpan.FromMilliseconds(100));
        Assert.Empty(machine.Reconfigure(_time.Now, Config(priority: 200)));
        // Adverts of priority 150 are now lower than ours: discarded, so the master-down timer runs out.
        for (int i = 0; i < 10 && machine.State == VrrpState.Backup; i++)
        {
            machine.OnAdvertisementReceived(_time.Now, Peer, 150, TimeSpan.FromMilliseconds(100));
            _time.Advance(TimeSpan.FromMilliseconds(100));
            machine.OnTimerFired(_time.Now);
        }
        Assert.Equal(VrrpState.Master, machine.State);
    }

    [Fact]
    public void The_identity_of_a_router_cannot_change_in_place()
    {
        var machine = Master(Config());
        Assert.Throws<ArgumentException>(() => machine.Reconfigure(_time.Now, Config() with { VirtualRouterId = 52 }));
        Assert.Throws<ArgumentException>(() => machine.Reconfigure(_time.Now, Config() with { PrimaryAddress = Peer }));
        Assert.Throws<ArgumentException>(() => machine.Reconfigure(_time.Now, Config(priority: 255)));
        Assert.Equal(VrrpState.Master, machine.State);
    }
}
