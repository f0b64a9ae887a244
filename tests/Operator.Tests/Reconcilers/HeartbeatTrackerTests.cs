using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

public class HeartbeatTrackerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);

    private static V1Lease Lease(string name, DateTimeOffset renewed, int seconds = 6) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1LeaseSpec { HolderIdentity = name, LeaseDurationSeconds = seconds, RenewTime = renewed.UtcDateTime },
    };

    private static (FakeTimeProvider Time, HeartbeatTracker Tracker, List<string> Changes) Start()
    {
        var time = new FakeTimeProvider(T0);
        var tracker = new HeartbeatTracker(time);
        var changes = new List<string>();
        tracker.Changed += node => changes.Add($"{node}@{(time.GetUtcNow() - T0).TotalSeconds:0.#}");
        return (time, tracker, changes);
    }

    [Fact]
    public void A_heartbeat_expires_one_lease_duration_after_the_last_renewal_seen_and_the_timer_says_so_then()
    {
        var (time, tracker, changes) = Start();
        tracker.Observe(Lease("nginx-ha-agent-lb1", T0));
        Assert.Equal(["lb1@0"], changes); // first seen: its groups are judged
        Assert.True(tracker.Reporting("lb1", time.GetUtcNow()));

        // Renewed every 1.5 s for a while: never expires, no further change.
        for (int i = 1; i <= 4; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1.5));
            tracker.Observe(Lease("nginx-ha-agent-lb1", time.GetUtcNow()));
        }
        Assert.Single(changes);

        // Then silence: expired exactly 6 s after the last renewal seen (at 6 s + 6 s), not before.
        time.Advance(TimeSpan.FromSeconds(5.9));
        Assert.Single(changes);
        Assert.True(tracker.Reporting("lb1", time.GetUtcNow()));
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(["lb1@0", "lb1@12"], changes);
        Assert.False(tracker.Reporting("lb1", time.GetUtcNow()));

        // The agent returns: the next renewal brings it back at once.
        time.Advance(TimeSpan.FromSeconds(30));
        tracker.Observe(Lease("nginx-ha-agent-lb1", time.GetUtcNow()));
        Assert.Equal(["lb1@0", "lb1@12", "lb1@42"], changes);
        Assert.True(tracker.Reporting("lb1", time.GetUtcNow()));
    }

    [Fact]
    public void Freshness_is_judged_on_the_operators_clock_not_the_renewTime_the_agent_wrote()
    {
        var (time, tracker, changes) = Start();
        tracker.Observe(Lease("nginx-ha-agent-lb1", T0));
        // The agent's clock is an hour behind: each renewal carries an old renewTime, but it moves, so it counts as seen now.
        var agentClock = T0 - TimeSpan.FromHours(1);
        for (int i = 1; i <= 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1.5));
            tracker.Observe(Lease("nginx-ha-agent-lb1", agentClock + TimeSpan.FromSeconds(1.5 * i)));
        }
        Assert.True(tracker.Reporting("lb1", time.GetUtcNow()));
        // An update that does not move renewTime (a label edit) renews nothing.
        time.Advance(TimeSpan.FromSeconds(5));
        tracker.Observe(Lease("nginx-ha-agent-lb1", agentClock + TimeSpan.FromSeconds(15)));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(tracker.Reporting("lb1", time.GetUtcNow()));
        Assert.Equal(["lb1@0", "lb1@21"], changes);
    }

    [Fact]
    public void A_Lease_first_seen_long_after_its_last_renewal_is_expired_at_once_and_a_deleted_one_expires_when_deleted()
    {
        var (time, tracker, changes) = Start();
        tracker.Observe(Lease("nginx-ha-agent-dead", T0 - TimeSpan.FromHours(2)));
        Assert.False(tracker.Reporting("dead", T0));
        tracker.Observe(Lease("nginx-ha-agent-lb2", T0));
        tracker.Forget(Lease("nginx-ha-agent-lb2", T0));
        Assert.False(tracker.Reporting("lb2", T0));
        Assert.Equal(["dead@0", "lb2@0", "lb2@0"], changes);

        // Other Leases (the operator's own) and nodes never seen are not judged: their reports count.
        tracker.Observe(Lease("nginx-ha-operator", T0 - TimeSpan.FromHours(2)));
        Assert.True(tracker.Reporting("nginx-ha-operator", T0));
        Assert.True(tracker.Reporting("lb3", T0));
        Assert.Equal(["dead", "lb2"], tracker.Snapshot().Keys.Order());
    }
}
