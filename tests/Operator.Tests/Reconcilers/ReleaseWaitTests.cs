using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>A deleted group's finalizer does not wait for a node whose agent heartbeat has expired.</summary>
public class ReleaseWaitTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);

    private static V1Lease Lease(string node, DateTimeOffset renewed, int seconds = 20) => new()
    {
        Metadata = new V1ObjectMeta { Name = AgentLeases.LeaseName(node), NamespaceProperty = "default" },
        Spec = new V1LeaseSpec { HolderIdentity = node, LeaseDurationSeconds = seconds, RenewTime = renewed.UtcDateTime },
    };

    [Fact]
    public void A_node_whose_heartbeat_expires_stops_being_waited_for_at_the_expiry_and_again_once_it_renews()
    {
        var time = new FakeTimeProvider(T0);
        using var tracker = new HeartbeatTracker(time);
        tracker.Observe(Lease("lb1", T0));
        tracker.Observe(Lease("lb2", T0));
        string[] holding = ["lb1", "lb2", "lb3"]; // lb3: an agent older than heartbeats, never judged

        var decision = ReleaseWait.Decide(holding, tracker.Snapshot(), time.GetUtcNow());
        Assert.Equal(["lb1", "lb2", "lb3"], decision.WaitingFor);
        Assert.Empty(decision.Expired);

        // lb1 keeps renewing; lb2's agent is dead: 19.9 s on it is still waited for, at 20 s it is not.
        time.Advance(TimeSpan.FromSeconds(10));
        tracker.Observe(Lease("lb1", time.GetUtcNow()));
        time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(["lb1", "lb2", "lb3"], ReleaseWait.Decide(holding, tracker.Snapshot(), time.GetUtcNow()).WaitingFor);
        time.Advance(TimeSpan.FromSeconds(0.1));
        decision = ReleaseWait.Decide(holding, tracker.Snapshot(), time.GetUtcNow());
        Assert.Equal(["lb1", "lb3"], decision.WaitingFor);
        Assert.Equal("lb2", Assert.Single(decision.Expired).Node);
        Assert.Equal("counted as released: node(s) lb2 (agent heartbeat expired at 2026-12-02T06:00:20Z); " +
                     "an agent that is not running holds no virtual IP it can defend (one cut off from the API server drops the group once it sees it gone)", ReleaseWait.ExpiredNote(decision.Expired));

        // lb2's agent comes back: it is waited for again (a running agent reports its own release).
        tracker.Observe(Lease("lb2", time.GetUtcNow()));
        Assert.Equal(["lb1", "lb2", "lb3"], ReleaseWait.Decide(holding, tracker.Snapshot(), time.GetUtcNow()).WaitingFor);
    }

    [Fact]
    public void When_every_holding_node_has_expired_nothing_is_waited_for()
    {
        var time = new FakeTimeProvider(T0);
        using var tracker = new HeartbeatTracker(time);
        tracker.Observe(Lease("lb1", T0, seconds: 6));
        tracker.Forget(Lease("lb2", T0)); // never seen: nothing to forget, still not judged
        time.Advance(TimeSpan.FromSeconds(6));

        var decision = ReleaseWait.Decide(["lb1"], tracker.Snapshot(), time.GetUtcNow());

        Assert.Empty(decision.WaitingFor);
        Assert.Equal(["lb1"], decision.Expired.Select(h => h.Node));
    }
}
