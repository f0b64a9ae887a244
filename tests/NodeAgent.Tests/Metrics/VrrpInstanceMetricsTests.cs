using System.Net;
using Microsoft.Extensions.Time.Testing;
using NginxHa.NodeAgent.Metrics;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Vrrp.VrrpState;

namespace NginxHa.NodeAgent.Tests.Metrics;

public sealed class VrrpInstanceMetricsTests
{
    static readonly IPAddress Peer = IPAddress.Parse("198.18.0.2");
    readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));

    VrrpInstanceMetrics Metrics(byte priority = 100) =>
        new("edge", "eth0", 51, VrrpVersion.V3, priority, TimeSpan.FromMilliseconds(100), _time);

    static VrrpAdvertisement Advert(byte vrid, VrrpVersion version = VrrpVersion.V3) =>
        new(version, vrid, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.200")]);

    [Fact]
    public void Split_brain_is_counted_only_while_this_node_stays_master_and_the_other_router_takes_part()
    {
        var m = Metrics();
        m.AdvertAccepted(Peer, 90, Master, Master);   // a lower router also acts as master: we assert, it is split brain
        m.AdvertAccepted(Peer, 0, Master, Master);    // the other router resigns: not split brain
        m.AdvertAccepted(Peer, 200, Master, Backup);  // a higher router preempts us: the protocol at work
        m.AdvertAccepted(Peer, 200, Backup, Backup);  // normal backup life
        Assert.Equal(1, m.SplitBrainSeen);
        Assert.Equal(4, m.AdvertsReceived);
    }

    [Theory]
    [InlineData(VrrpDropReason.AddressListMismatch, VridConflictKind.VipSet)]
    [InlineData(VrrpDropReason.AddressCountMismatch, VridConflictKind.VipSet)]
    [InlineData(VrrpDropReason.VersionMismatch, VridConflictKind.Version)]
    [InlineData(VrrpDropReason.AuthTypeMismatch, VridConflictKind.Auth)]
    [InlineData(VrrpDropReason.AuthenticationFailed, VridConflictKind.Auth)]
    public void A_drop_for_our_vrid_with_other_settings_is_a_conflict_of_its_kind(VrrpDropReason reason, VridConflictKind kind)
    {
        var m = Metrics();
        m.AdvertDropped(reason, Peer, Advert(51));
        m.AdvertDropped(reason, Peer, Advert(52)); // another VRID's traffic: counted as a drop, no conflict
        Assert.Equal(2, m.Dropped(reason));
        Assert.Equal(1, m.Conflicts(kind));
        Assert.Equal(1, Enum.GetValues<VridConflictKind>().Sum(k => m.Conflicts(k)));
    }

    [Fact]
    public void Malformed_packets_are_counted_by_reason_without_a_conflict()
    {
        var m = Metrics();
        m.AdvertDropped(VrrpDropReason.BadChecksum, Peer, null);
        m.AdvertDropped(VrrpDropReason.BadTtl, Peer, Advert(51));
        Assert.Equal(1, m.Dropped(VrrpDropReason.BadChecksum));
        Assert.Equal(1, m.Dropped(VrrpDropReason.BadTtl));
        Assert.All(Enum.GetValues<VridConflictKind>(), k => Assert.Equal(0, m.Conflicts(k)));
    }

    [Fact]
    public void Peers_are_bounded_and_forgotten_after_a_master_down_interval()
    {
        var m = Metrics();
        for (int i = 1; i <= 20; i++) m.AdvertAccepted(IPAddress.Parse($"198.18.0.{i + 10}"), (byte)i, Backup, Backup);
        Assert.Equal(VrrpInstanceMetrics.MaxPeers, m.Peers().Count);
        m.AdvertAccepted(IPAddress.Parse("198.18.0.11"), 77, Backup, Backup); // a known peer still updates
        Assert.Contains(m.Peers(), p => p.Address.Equals(IPAddress.Parse("198.18.0.11")) && p.Priority == 77);

        // 3 x 100 ms + 1 s of slack: still there just before, gone just after.
        _time.Advance(TimeSpan.FromMilliseconds(1300));
        Assert.Equal(VrrpInstanceMetrics.MaxPeers, m.Peers().Count);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Empty(m.Peers());
    }

    [Fact]
    public void State_priority_and_transition_age_follow_the_transitions()
    {
        var m = Metrics(priority: 150);
        Assert.Equal(Initialize, m.State);
        Assert.Equal(0, m.EffectivePriority);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromSeconds(5), m.SinceLastTransition);

        m.StateChanged(Initialize, Backup, "startup");
        Assert.Equal(150, m.EffectivePriority);
        Assert.Equal(TimeSpan.Zero, m.SinceLastTransition);
        _time.Advance(TimeSpan.FromSeconds(2));
        m.StateChanged(Backup, Master, "master down timer expired");
        m.StateChanged(Master, Fault, "fault: node cannot serve");
        Assert.Equal(Fault, m.State);
        Assert.Equal(0, m.EffectivePriority);
        _time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(3), m.SinceLastTransition);

        var counts = m.Transitions().ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(1, counts[(Initialize, Backup, TransitionReasons.Startup)]);
        Assert.Equal(1, counts[(Backup, Master, TransitionReasons.MasterDown)]);
        Assert.Equal(1, counts[(Master, Fault, TransitionReasons.Fault)]);
        Assert.Equal(3, counts.Values.Sum());
        // Every possible transition has a series from the start, so increase() sees the first one.
        Assert.Equal(TransitionReasons.Possible.Count, counts.Count);
    }

    [Fact]
    public void Vips_bound_and_announcements_are_tracked()
    {
        var m = Metrics();
        m.AddressesBound(2);
        m.Announced(2);
        m.Announced(2);
        Assert.Equal(2, m.VipsBound);
        Assert.Equal(4, m.Announcements);
        m.AddressesBound(0);
        Assert.Equal(0, m.VipsBound);
    }
}
