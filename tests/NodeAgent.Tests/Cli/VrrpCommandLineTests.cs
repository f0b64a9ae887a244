using System.Net;
using NginxHa.NodeAgent.Cli;
using NginxHa.NodeAgent.Vrrp;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Tests.Cli;

public class VrrpCommandLineTests
{
    static VrrpCommandOptions Parse(string line) => VrrpCommandLine.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    [Fact]
    public void Minimal_arguments_take_the_documented_defaults()
    {
        var o = Parse("--interface eth0 --vrid 51 --priority 100 --vip 198.18.0.8/24");
        Assert.Equal("eth0", o.Interface);
        Assert.Equal(51, o.VirtualRouterId);
        Assert.Equal(100, o.Priority);
        Assert.Equal([new VirtualIp(IPAddress.Parse("198.18.0.8"), 24)], o.VirtualAddresses);
        Assert.Equal(VrrpVersion.V3, o.Version);
        Assert.Equal(TimeSpan.FromSeconds(1), o.AdvertInterval);
        Assert.True(o.Preempt);
        Assert.Equal(TimeSpan.Zero, o.PreemptDelay);
        Assert.Empty(o.UnicastPeers);
        Assert.Null(o.AuthPassFile);
        Assert.Equal(5, o.GratuitousRepeat);
    }

    [Fact]
    public void Every_option_is_read()
    {
        var o = Parse("--interface veth1 --vrid 7 --priority 254 --vip 198.18.0.8 --vip 198.18.0.9/24 --version 2 " +
                      "--advert-interval 2s --auth-pass-file /run/pw --no-preempt --preempt-delay 30s " +
                      "--unicast-peer 198.18.0.2 198.18.0.3 --unicast-peer 198.18.0.4 --garp-repeat 3 --garp-interval 100ms --garp-refresh 60s");
        Assert.Equal([new VirtualIp(IPAddress.Parse("198.18.0.8"), 32), new VirtualIp(IPAddress.Parse("198.18.0.9"), 24)], o.VirtualAddresses);
        Assert.Equal(VrrpVersion.V2, o.Version);
        Assert.Equal(TimeSpan.FromSeconds(2), o.AdvertInterval);
        Assert.Equal("/run/pw", o.AuthPassFile);
        Assert.False(o.Preempt);
        Assert.Equal(TimeSpan.FromSeconds(30), o.PreemptDelay);
        Assert.Equal(["198.18.0.2", "198.18.0.3", "198.18.0.4"], o.UnicastPeers.Select(p => p.ToString()));
        Assert.Equal(3, o.GratuitousRepeat);
        Assert.Equal(TimeSpan.FromMilliseconds(100), o.GratuitousInterval);
        Assert.Equal(TimeSpan.FromSeconds(60), o.GratuitousRefresh);
    }

    [Fact]
    public void Ipv6_vips_default_to_a_full_prefix()
    {
        var o = Parse("--interface eth0 --vrid 1 --priority 100 --vip fd00::8 --advert-interval 100ms");
        Assert.Equal(new VirtualIp(IPAddress.Parse("fd00::8"), 128), o.VirtualAddresses[1]);
        Assert.Equal(TimeSpan.FromMilliseconds(100), o.AdvertInterval);
    }

    [Fact]
    public void An_ipv6_instance_without_a_link_local_vip_advertises_the_virtual_routers_one_first()
    {
        // RFC 5798 section 5.2.9; fe80::200:5eff:fe00:233 is the EUI-64 address of the VRID 51 router MAC 00-00-5E-00-02-33.
        var o = Parse("--interface eth0 --vrid 51 --priority 100 --vip fd00::100/64 --vip fd00::101/64");
        Assert.Equal(["fe80::200:5eff:fe00:233/64", "fd00::100/64", "fd00::101/64"], o.VirtualAddresses.Select(v => v.ToString()));

        var given = Parse("--interface eth0 --vrid 51 --priority 100 --vip fd00::100/64 --vip fe80::1/64");
        Assert.Equal(["fe80::1/64", "fd00::100/64"], given.VirtualAddresses.Select(v => v.ToString()));

        var unicast = Parse("--interface eth0 --vrid 51 --priority 100 --vip fd00::100/64 --unicast-peer fd00::2");
        Assert.Equal(["fd00::100/64"], unicast.VirtualAddresses.Select(v => v.ToString()));
    }

    [Fact]
    public void The_added_link_local_counts_toward_the_advert_limit_of_255()
    {
        var vips = string.Join(' ', Enumerable.Range(1, 255).Select(i => $"--vip fd00::1:{i:x}/64"));
        var ex = Assert.Throws<UsageException>(() => Parse($"--interface eth0 --vrid 51 --priority 100 {vips}"));
        Assert.Equal("--vip: 255 addresses given and the link-local fe80::200:5eff:fe00:233 added (RFC 5798 section 5.2.9), " +
                     "but one VRRP advert carries at most 255", ex.Message);
        Assert.Equal(255, Parse($"--interface eth0 --vrid 51 --priority 100 {vips.Replace("fd00::1:1/64", "fe80::1/64")}").VirtualAddresses.Count);
    }

    [Theory]
    [InlineData("--vrid 51 --priority 100 --vip 198.18.0.8", "--interface: required")]
    [InlineData("--interface eth0 --priority 100 --vip 198.18.0.8", "--vrid: required")]
    [InlineData("--interface eth0 --vrid 51 --vip 198.18.0.8", "--priority: required")]
    [InlineData("--interface eth0 --vrid 51 --priority 100", "--vip: at least one virtual address is required")]
    [InlineData("--interface eth0 --vrid 0 --priority 100 --vip 198.18.0.8", "--vrid: \"0\" is not a number from 1 to 255")]
    [InlineData("--interface eth0 --vrid 256 --priority 100 --vip 198.18.0.8", "--vrid: \"256\" is not a number from 1 to 255")]
    [InlineData("--interface eth0 --vrid 5 --priority -1 --vip 198.18.0.8", "--priority: \"-1\" is not a number from 1 to 255")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.300", "--vip: \"198.18.0.300\" is not an IP address with an optional /prefix")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8/33", "--vip: \"198.18.0.8/33\" has a prefix length outside 0..32")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --vip fd00::8", "--vip: \"fd00::8/128\" mixes IPv4 and IPv6 in one instance (run one instance per family)")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --vip 198.18.0.8/24", "--vip: \"198.18.0.8\" is given twice")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --version 4", "--version: \"4\" must be 2 or 3")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip fd00::8 --version 2", "--version: VRRP version 2 supports IPv4 only")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --version 2 --advert-interval 100ms", "--advert-interval: \"100ms\" must be whole seconds from 1s to 255s for VRRP version 2")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --advert-interval 105ms", "--advert-interval: \"105ms\" must be a multiple of 10ms up to 40.95s for VRRP version 3")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --advert-interval fast", "--advert-interval: \"fast\" is not a duration like 100ms or 1s (above zero)")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --advert-interval 0s", "--advert-interval: \"0s\" is not a duration like 100ms or 1s (above zero)")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --auth-pass-file /x", "--auth-pass-file: authentication exists only in VRRP version 2 (add --version 2)")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --unicast-peer fd00::2", "--unicast-peer: \"fd00::2\" is not of the virtual addresses' family")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --unicast-peer 198.18.0.0/24", "--unicast-peer: \"198.18.0.0/24\" is not an IP address")]
    [InlineData("--interface eth0 --vrid 5 --priority 100 --vip 198.18.0.8 --state MASTER", "--state: unknown argument")]
    [InlineData("--interface --vrid 5", "--interface: a value is required")]
    public void Bad_arguments_give_one_line_naming_the_argument(string line, string message)
    {
        var ex = Assert.Throws<UsageException>(() => Parse(line));
        Assert.Equal(message, ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }
}
