using System.Net;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>
/// Two state machines wired back to back on one fake clock (adverts delivered instantly): the
/// election, a priority-0 handover and preemption on return, with the exact times the RFC gives.
/// </summary>
public sealed class VrrpPairSimulationTests
{
    private static readonly MonotonicTime T0 = TestClock.DefaultStart;

    private readonly TestClock _time = new();
    private readonly List<(MonotonicTime At, string Router, VrrpAction Action)> _log = [];

    private sealed record Router(string Name, VrrpStateMachine Machine);

    [Theory]
    [InlineData(VrrpVersion.V2)]
    [InlineData(VrrpVersion.V3)]
    public void Pair_ElectsHigherPriority_HandsOverOnShutdown_AndPreemptsOnReturn(VrrpVersion version)
    {
        var a = new Router("a", Machine(version, 200, "198.18.0.1"));
        var b = new Router("b", Machine(version, 100, "198.18.0.2"));

        Deliver(a, b, a.Machine.Startup(_time.Now));
        Deliver(b, a, b.Machine.Startup(_time.Now));

        // a's Master_Down_Interval (3 s + 56/256 s) ends before b's (3 s + 156/256 s): a wins the election.
        var aTakesOver = T0 + TimeSpan.FromTicks(32_187_500);
        RunUntil(a, b, T0 + TimeSpan.FromSeconds(20));
        Assert.Equal(VrrpState.Master, a.Machine.State);
        Assert.Equal(VrrpState.Backup, b.Machine.State);
        Assert.Equal(aTakesOver, _log.Single(e => e.Action is VrrpAction.AcquireAddresses).At);
        Assert.Equal(IPAddress.Parse("198.18.0.1"), b.Machine.CurrentMaster);
        Assert.Equal(1, b.Machine.Transitions);

        // a shuts down: priority 0, and b takes over after its Skew_Time (156/256 s), not Master_Down_Interval.
        var shutdownAt = _time.Now;
        Deliver(a, b, a.Machine.Shutdown());
        RunUntil(a, b, shutdownAt + TimeSpan.FromSeconds(5));
        Assert.Equal(VrrpState.Master, b.Machine.State);
        var bTakesOver = _log.Last(e => e.Router == "b" && e.Action is VrrpAction.AcquireAddresses).At;
        Assert.Equal(shutdownAt + TimeSpan.FromTicks(6_093_750), bTakesOver);

        // a returns: b's lower-priority adverts are discarded, a preempts at its Master_Down_Interval and b yields.
        var restartAt = _time.Now;
        Deliver(a, b, a.Machine.Startup(_time.Now));
        RunUntil(a, b, restartAt + TimeSpan.FromSeconds(10));
        Assert.Equal(VrrpState.Master, a.Machine.State);
        Assert.Equal(VrrpState.Backup, b.Machine.State);
        var aReturns = _log.Last(e => e.Router == "a" && e.Action is VrrpAction.AcquireAddresses).At;
        var bYields = _log.Last(e => e.Router == "b" && e.Action is VrrpAction.ReleaseAddresses).At;
        Assert.Equal(restartAt + TimeSpan.FromTicks(32_187_500), aReturns);
        Assert.Equal(aReturns, bYields);

        // Never both holding the addresses at the end of an instant.
        Assert.Equal(3, _log.Count(e => e.Action is VrrpAction.AcquireAddresses));
        Assert.Equal(2, _log.Count(e => e.Action is VrrpAction.ReleaseAddresses));
    }

    private VrrpStateMachine Machine(VrrpVersion version, byte priority, string address) =>
        new(new VrrpInstanceConfig(version, 9, priority, TimeSpan.FromSeconds(1), IPAddress.Parse(address)));

    private void RunUntil(Router a, Router b, MonotonicTime end)
    {
        while (true)
        {
            var next = Earliest(a.Machine.NextTimerDue, b.Machine.NextTimerDue);
            if (next is null || next > end)
                break;
            _time.Set(next.Value);
            Deliver(a, b, a.Machine.OnTimerFired(_time.Now));
            Deliver(b, a, b.Machine.OnTimerFired(_time.Now));
            Assert.False(a.Machine.State == VrrpState.Master && b.Machine.State == VrrpState.Master,
                $"both routers master at {_time.Now:O}");
        }

        _time.Set(end);
    }

    private void Deliver(Router from, Router to, IReadOnlyList<VrrpAction> actions)
    {
        foreach (var action in actions)
        {
            _log.Add((_time.Now, from.Name, action));
            if (action is VrrpAction.SendAdvertisement send)
            {
                var replies = to.Machine.OnAdvertisementReceived(
                    _time.Now, from.Machine.Config.PrimaryAddress, send.Priority, from.Machine.Config.AdvertInterval);
                Deliver(to, from, replies);
            }
        }
    }

    private static MonotonicTime? Earliest(MonotonicTime? x, MonotonicTime? y) =>
        x is null ? y : y is null ? x : (x < y ? x : y);
}
