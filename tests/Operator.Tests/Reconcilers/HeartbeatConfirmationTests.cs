using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>
/// The leader's confirmation of an agent heartbeat expiry on a fake clock, against a Lease "API" that answers at once
/// (or fails at once while it is down): every read and every re-judged group is seen at the fake time it happens.
/// </summary>
public class HeartbeatConfirmationTests
{
    private static readonly DateTimeOffset T0 = WebGroup.T0;
    private const int Duration = 6;

    /// <summary>The agent lb1's Lease as the API server holds it, a tracker fed by a watch the test drives, and the
    /// confirmation wired as the controller wires it.</summary>
    private sealed class Rig
    {
        public readonly FakeTimeProvider Time = new(T0);
        public readonly HeartbeatTracker Tracker;
        public readonly StringWriter Log = new();
        public DateTimeOffset Renewed = T0; // the renewTime the agent last wrote
        public bool ApiDown;
        public bool Leading = true;
        public readonly List<double> Reads = [];
        public readonly List<string> Judged = [];

        public Rig()
        {
            Tracker = new HeartbeatTracker(Time);
            var confirmation = new HeartbeatConfirmation(Tracker, ReadAsync, () => Leading,
                node => Judged.Add($"{node}@{Seconds}:{(Tracker.Reporting(node, Time.GetUtcNow()) ? "reporting" : "expired")}"),
                "default", new OperatorLog(Log, Time, debug: true), Time);
            Tracker.Changed += node => _ = confirmation.OnChangedAsync(node);
        }

        public double Seconds => (Time.GetUtcNow() - T0).TotalSeconds;

        public V1Lease Lease() => new()
        {
            Metadata = new V1ObjectMeta { Name = "nginx-ha-agent-lb1", NamespaceProperty = "default" },
            Spec = new V1LeaseSpec { HolderIdentity = "lb1", LeaseDurationSeconds = Duration, RenewTime = Renewed.UtcDateTime },
        };

        private Task<V1Lease> ReadAsync(string name, CancellationToken cancellationToken)
        {
            Assert.Equal("nginx-ha-agent-lb1", name);
            Reads.Add(Seconds);
            return ApiDown ? Task.FromException<V1Lease>(new HttpRequestException("Connection refused")) : Task.FromResult(Lease());
        }

        /// <summary>The agent renews its Lease but the watch does not deliver it (it is re-listing after the outage).</summary>
        public void RenewUnseen() => Renewed = Time.GetUtcNow();

        /// <summary>In steps of 0.5 s (every time in these tests is a multiple), so each timer fires at its own time.</summary>
        public void AdvanceTo(double seconds)
        {
            var target = T0 + TimeSpan.FromSeconds(seconds);
            while (Time.GetUtcNow() < target)
            {
                var left = target - Time.GetUtcNow();
                Time.Advance(left < TimeSpan.FromSeconds(0.5) ? left : TimeSpan.FromSeconds(0.5));
            }
        }

        /// <summary>The group's master as the group reconciler builds its status from the tracker: lb1 last reported
        /// MASTER, lb2 (no Lease) BACKUP.</summary>
        public string? Master()
        {
            var heartbeats = Tracker.Snapshot();
            NodeReport Report(string node, VrrpInstanceState state) => new(node, true, null, 1, WebGroup.Reported(1, state), heartbeats.GetValueOrDefault(node));
            return GroupStatusBuilder.Build(WebGroup.Resource(), WebGroup.Plan(), [Report("lb1", VrrpInstanceState.Master), Report("lb2", VrrpInstanceState.Backup)],
                true, Time.GetUtcNow()).VirtualIPs.Single().MasterNode;
        }
    }

    private static IEnumerable<double> Every2s(double from, double to) => Enumerable.Range(0, (int)((to - from) / 2) + 1).Select(i => from + 2 * i);

    [Fact]
    public void An_expiry_that_cannot_be_confirmed_during_an_outage_is_rechecked_every_2_s_then_a_few_more_times_once_readable()
    {
        var rig = new Rig();
        rig.Tracker.Observe(rig.Lease()); // first sight: judged, no read needed
        Assert.Equal(["lb1@0:reporting"], rig.Judged);

        // The API server goes away for 60 s; the agent (dead, as it turns out) stops renewing.
        rig.ApiDown = true;
        rig.AdvanceTo(Duration); // the expiry: read once, unreadable
        Assert.Equal([6.0], rig.Reads);
        Assert.Equal(["lb1@0:reporting", "lb1@6:expired"], rig.Judged); // not confirmed, but the expiry counts meanwhile
        Assert.Null(rig.Master()); // lb1's MASTER no longer counts; lb2 is only BACKUP
        rig.AdvanceTo(65);
        Assert.Equal(Every2s(6, 64), rig.Reads); // every 2 s while unreadable
        rig.ApiDown = false;

        // Readable again, the Lease not renewed: five more reads, 2 s apart, then the watch is left to it.
        rig.AdvanceTo(200);
        Assert.Equal(Every2s(6, 76), rig.Reads);
        Assert.False(rig.Tracker.Reporting("lb1", rig.Time.GetUtcNow()));
        Assert.Null(rig.Master());
        Assert.Contains("heartbeat: reading Lease nginx-ha-agent-lb1: HttpRequestException: Connection refused", rig.Log.ToString());
    }

    [Fact]
    public void After_an_outage_a_renewed_Lease_clears_the_expiry_and_the_master_shows_again_without_a_watch_relist()
    {
        var rig = new Rig();
        rig.Tracker.Observe(rig.Lease());
        Assert.Equal("lb1", rig.Master());

        // The agent lives but cannot renew while the API server is away; the watch then delivers nothing (re-listing).
        rig.ApiDown = true;
        rig.AdvanceTo(Duration);
        Assert.Null(rig.Master());
        rig.AdvanceTo(60);
        rig.ApiDown = false;
        rig.AdvanceTo(61.5);
        rig.RenewUnseen(); // between the read at 60 (down) and the one at 62

        rig.AdvanceTo(62);
        Assert.True(rig.Tracker.Reporting("lb1", rig.Time.GetUtcNow()));
        Assert.Equal("lb1@62:reporting", rig.Judged[^1]); // its groups queued with the node counting again
        Assert.Equal("lb1", rig.Master());
        Assert.Contains("heartbeat: Lease default/nginx-ha-agent-lb1 was renewed but the watch did not say so", rig.Log.ToString());

        // Confirmed: no further reads while the agent keeps renewing (seen by the watch again).
        for (double t = 63.5; t < 100; t += 1.5)
        {
            rig.AdvanceTo(t);
            rig.RenewUnseen();
            rig.Tracker.Observe(rig.Lease());
        }
        Assert.Equal(62, rig.Reads[^1]);
        Assert.Equal("lb1", rig.Master());
    }

    [Fact]
    public void A_renewal_the_watch_missed_is_found_by_reading_the_Lease_and_the_node_is_never_judged_expired()
    {
        var rig = new Rig();
        rig.Tracker.Observe(rig.Lease());
        // The agent renews every 2 s, but the watch has stalled (its watchdog has not re-opened it yet).
        for (var t = 2; t <= Duration; t += 2)
        {
            rig.AdvanceTo(t);
            rig.RenewUnseen();
        }
        Assert.Equal([6.0], rig.Reads); // the expiry at 6 s was confirmed by one read ...
        Assert.Equal(["lb1@0:reporting", "lb1@6:reporting"], rig.Judged); // ... which found the renewal: judged once, reporting
        Assert.True(rig.Tracker.Reporting("lb1", rig.Time.GetUtcNow()));
        Assert.Equal("lb1", rig.Master());
        Assert.Contains("was renewed but the watch did not say so", rig.Log.ToString());

        // The renewal found counts as seen at 6 s: the next expiry is at 12 s, confirmed the same way, with no recheck between.
        rig.AdvanceTo(11.9);
        Assert.Single(rig.Reads);
        rig.AdvanceTo(12);
        Assert.Equal([6.0, 12.0], rig.Reads);
    }

    [Fact]
    public void A_replica_that_is_not_leading_never_reads_the_Lease_and_judges_the_expiry_as_the_watch_says()
    {
        var rig = new Rig { Leading = false };
        rig.Tracker.Observe(rig.Lease());
        rig.RenewUnseen();
        rig.AdvanceTo(Duration + 30);
        Assert.Empty(rig.Reads);
        Assert.Equal(["lb1@0:reporting", "lb1@6:expired"], rig.Judged);
    }
}
