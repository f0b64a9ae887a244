using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

public class HeardRoutersTests
{
    static readonly DateTimeOffset T0 = new(2026, 12, 2, 13, 0, 0, TimeSpan.Zero);
    readonly FakeTimeProvider _clock = new(T0);
    static readonly IPAddress V4Source = IPAddress.Parse("198.18.0.5");
    static readonly IPAddress V6Source = IPAddress.Parse("fe80::5");

    static VrrpAdvertisement Advert(int vrid, string vip = "198.18.0.201", byte priority = 100, VrrpVersion version = VrrpVersion.V3,
        string? password = null) =>
        new(version, (byte)vrid, priority, TimeSpan.FromSeconds(1), [IPAddress.Parse(vip)],
            password is null ? VrrpAuthType.None : VrrpAuthType.SimpleText,
            password is null ? default : Encoding.ASCII.GetBytes(password.PadRight(8, '\0')));

    [Fact]
    public void The_report_lists_interface_family_VRID_version_addresses_priority_auth_type_and_when_heard_but_never_the_password()
    {
        using var heard = new HeardRouters(_clock);
        heard.Record("eth0", V4Source, Advert(51, "198.18.9.9", priority: 150, version: VrrpVersion.V2, password: "s3cr3tpw"));
        _clock.Advance(TimeSpan.FromSeconds(3));
        heard.Record("eth1", V6Source, Advert(7, "fd00::9"));

        var report = heard.Report();

        Assert.Equal(["eth0 198.18.0.5 IPv4 51 v2 198.18.9.9 p150 SimpleText 13:00:00", "eth1 fe80::5 IPv6 7 v3 fd00::9 p100 None 13:00:03"],
            report.Select(r => $"{r.Interface} {r.Source} {r.Family} {r.VirtualRouterId} v{r.Version} {string.Join(",", r.Addresses)} p{r.Priority} {r.AuthType} {r.LastHeard:HH:mm:ss}"));
        var json = JsonSerializer.Serialize(report.Select(r => new { r.Interface, r.Addresses, r.AuthType, r.Priority }));
        Assert.DoesNotContain("s3cr3tpw", json);
        // The planner's view carries version and authentication too: a router differing only there is not ours.
        Assert.Equal(["IPv4 51 2 SimpleText eth0", "IPv6 7 3 None eth1"],
            heard.Snapshot().Select(h => $"{h.Family} {h.VirtualRouterId} {h.Version} {h.AuthType} {h.Interface}"));
    }

    [Fact]
    public void Changed_is_raised_when_a_router_appears_or_its_adverts_change_not_on_every_advert()
    {
        using var heard = new HeardRouters(_clock);
        var changes = 0;
        heard.Changed += () => changes++;

        heard.Record("eth0", V4Source, Advert(51));
        Assert.Equal(1, changes);
        for (var i = 0; i < 10; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            heard.Record("eth0", V4Source, Advert(51));
        }
        Assert.Equal(1, changes);
        Assert.Equal(T0.AddSeconds(10), heard.Report().Single().LastHeard); // refreshed without a change

        heard.Record("eth0", V4Source, Advert(51, priority: 0)); // its master leaves
        heard.Record("eth0", V4Source, Advert(51, vip: "198.18.0.202", priority: 0));
        heard.Record("eth0", V4Source, Advert(51, vip: "198.18.0.202", priority: 0, version: VrrpVersion.V2));
        heard.Record("eth1", V4Source, Advert(51, vip: "198.18.0.202", priority: 0, version: VrrpVersion.V2));
        Assert.Equal(5, changes);
        Assert.Equal(["eth0", "eth1"], heard.Report().Select(r => r.Interface));

        // Another sender on the same VRID (a conflict, or our peer after a failover) is its own entry: no flip-flop.
        heard.Record("eth0", IPAddress.Parse("198.18.0.6"), Advert(51, vip: "198.18.0.99"));
        heard.Record("eth0", V4Source, Advert(51, vip: "198.18.0.202", priority: 0, version: VrrpVersion.V2));
        heard.Record("eth0", IPAddress.Parse("198.18.0.6"), Advert(51, vip: "198.18.0.99"));
        Assert.Equal(6, changes);
        Assert.Equal(["198.18.0.5 198.18.0.202", "198.18.0.6 198.18.0.99"],
            heard.Report().Where(r => r.Interface == "eth0").Select(r => $"{r.Source} {string.Join(",", r.Addresses)}"));
    }

    [Fact]
    public void A_router_not_heard_for_a_minute_is_forgotten_by_the_sweep_which_raises_Changed()
    {
        using var heard = new HeardRouters(_clock);
        heard.Record("eth0", V4Source, Advert(51));
        heard.Record("eth0", V4Source, Advert(52));
        var changes = 0;
        heard.Changed += () => changes++;

        // 52 keeps speaking, 51 stops.
        for (var t = 5; t <= 55; t += 5)
        {
            _clock.Advance(TimeSpan.FromSeconds(5));
            heard.Record("eth0", V4Source, Advert(52));
        }
        Assert.Equal([51, 52], heard.Report().Select(r => r.VirtualRouterId));
        Assert.Equal(0, changes);
        _clock.Advance(TimeSpan.FromSeconds(5)); // a minute after 51's last advert, on a sweep
        Assert.Equal(1, changes);
        Assert.Equal([52], heard.Report().Select(r => r.VirtualRouterId));
        Assert.Equal([52], heard.Snapshot().Select(r => r.VirtualRouterId));
    }

    [Fact]
    public void At_most_255_routers_per_family_are_reported_the_most_recently_heard()
    {
        using var heard = new HeardRouters(_clock);
        foreach (var iface in new[] { "eth0", "eth1" })
            for (var vrid = 1; vrid <= 255; vrid++)
            {
                heard.Record(iface, V4Source, Advert(vrid));
                _clock.Advance(TimeSpan.FromMilliseconds(10));
            }
        heard.Record("eth0", V6Source, Advert(1, "fd00::1"));

        var report = heard.Report();

        Assert.Equal(NodeHaConfigStatus.MaxHeardRoutersPerFamily, report.Count(r => r.Family == "IPv4"));
        Assert.All(report.Where(r => r.Family == "IPv4"), r => Assert.Equal("eth1", r.Interface));
        Assert.Single(report, r => r.Family == "IPv6");
    }
}
