using System.Net;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Network;

namespace NginxHa.Integration.Tests.Network;

public sealed class NetlinkAddressTests : IDisposable
{
    private static readonly IPAddress VipV4 = IPAddress.Parse("198.18.0.100");
    private static readonly IPAddress VipV6 = IPAddress.Parse("fd00::100");
    private readonly NetworkLab _lab = NetworkLab.Create("nio", 1);
    private LabNode Node => _lab.Nodes[0];

    public void Dispose() => _lab.Dispose();

    [Fact]
    public void Add_list_remove_IPv4_and_IPv6_VIPs_is_idempotent_and_agrees_with_iproute2()
    {
        var iface = Node.Run(() => NetworkInterfaces.Get("eth0"));
        using var manager = Node.Run(() => new NetlinkAddressManager());

        manager.Add(iface.Index, VipV4, 24);
        manager.Add(iface.Index, VipV4, 24); // EEXIST is fine
        manager.Add(iface.Index, VipV6, 64);
        manager.Add(iface.Index, VipV6, 64);

        var listed = manager.List(iface.Index);
        var v4 = Assert.Single(listed, a => a.Address.Equals(VipV4));
        var v6 = Assert.Single(listed, a => a.Address.Equals(VipV6));
        Assert.Equal((iface.Index, 24, NetlinkAddressManager.OwnedProtocol, true), (v4.InterfaceIndex, v4.PrefixLength, v4.Protocol, v4.IsOwned));
        Assert.Equal((iface.Index, 64, NetlinkAddressManager.OwnedProtocol, true), (v6.InterfaceIndex, v6.PrefixLength, v6.Protocol, v6.IsOwned));
        Assert.True(v4.Flags.HasFlag(AddressFlags.Secondary), "the VIP joins the node's /24 as a secondary address");
        Assert.True(v6.Flags.HasFlag(AddressFlags.NoDad));
        Assert.False(v6.Flags.HasFlag(AddressFlags.Tentative), "IPv6 VIP must be usable at once");
        var nodeAddress = Assert.Single(listed, a => a.Address.Equals(Node.IPv4));
        Assert.False(nodeAddress.IsOwned);
        Assert.Contains(manager.List(0), a => a.Address.Equals(VipV4)); // 0 = every interface
        Assert.DoesNotContain(manager.List(0), a => a.Address.Equals(VipV4) && a.InterfaceIndex != iface.Index);

        var seenByIp = IpJson.Addresses(Node, "eth0");
        Assert.Contains(seenByIp, a => a is { Family: "inet", Local: "198.18.0.100", PrefixLength: 24, Secondary: true });
        Assert.Contains(seenByIp, a => a is { Family: "inet6", Local: "fd00::100", PrefixLength: 64, NoDad: true, Tentative: false });

        manager.Remove(iface.Index, VipV4, 24);
        manager.Remove(iface.Index, VipV4, 24); // already gone is fine
        manager.Remove(iface.Index, VipV6, 64);
        manager.Remove(iface.Index, VipV6, 64);

        Assert.DoesNotContain(manager.List(iface.Index), a => a.Address.Equals(VipV4) || a.Address.Equals(VipV6));
        var afterRemoval = IpJson.Addresses(Node, "eth0");
        Assert.DoesNotContain(afterRemoval, a => a.Local is "198.18.0.100" or "fd00::100");
        Assert.Contains(afterRemoval, a => a.Local == "198.18.0.1"); // the node's own address untouched
    }

    [Fact]
    public void RemoveOwned_clears_leftovers_of_a_crashed_run_and_keeps_foreign_addresses()
    {
        var iface = Node.Run(() => NetworkInterfaces.Get("eth0"));
        // A "crashed" agent: its manager is gone but its addresses stay.
        Node.Run(() =>
        {
            using var crashed = new NetlinkAddressManager();
            crashed.Add(iface.Index, VipV4, 32);
            crashed.Add(iface.Index, VipV6, 128);
        });
        Node.Exec("ip", "addr", "add", "198.18.0.200/24", "dev", "eth0"); // an operator's address, not ours

        using var manager = Node.Run(() => new NetlinkAddressManager());
        var removed = manager.RemoveOwned(iface.Index);

        Assert.Equal(["198.18.0.100", "fd00::100"], removed.Select(a => a.Address.ToString()).Order());
        var left = IpJson.Addresses(Node, "eth0").Select(a => a.Local).ToList();
        Assert.DoesNotContain("198.18.0.100", left);
        Assert.DoesNotContain("fd00::100", left);
        Assert.Contains("198.18.0.200", left);
        Assert.Contains("198.18.0.1", left);
    }

    [Fact]
    public void Get_reports_index_mac_primary_IPv4_and_link_local_and_skips_our_VIPs()
    {
        var before = Node.Run(() => NetworkInterfaces.Get("eth0"));
        string linkJson = Node.Exec("ip", "-j", "link", "show", "dev", "eth0").StandardOutput;
        Assert.Contains($"\"ifindex\":{before.Index},", linkJson);
        Assert.Equal(Node.Mac, before.MacAddress);
        Assert.Equal(Node.IPv4, before.PrimaryIPv4);
        Assert.NotNull(before.LinkLocalIPv6);
        Assert.True(before.LinkLocalIPv6!.IsIPv6LinkLocal);
        Assert.Equal(before.Index, before.LinkLocalIPv6.ScopeId);
        Assert.Contains(IpJson.Addresses(Node, "eth0"), a => a.Local == new IPAddress(before.LinkLocalIPv6.GetAddressBytes()).ToString());

        // With the node's own address gone, an owned VIP (primary in its own subnet) must not be taken as the source.
        Node.Exec("ip", "addr", "del", $"{Node.IPv4}/24", "dev", "eth0");
        using var manager = Node.Run(() => new NetlinkAddressManager());
        manager.Add(before.Index, IPAddress.Parse("198.18.1.100"), 24);
        var after = Node.Run(() => NetworkInterfaces.Get("eth0"));
        Assert.Null(after.PrimaryIPv4);
        Assert.Equal(before.LinkLocalIPv6, after.LinkLocalIPv6);
    }

    [Fact]
    public void Bad_input_gets_clear_errors()
    {
        var missing = Assert.Throws<ArgumentException>(() => Node.Run(() => NetworkInterfaces.Get("nope0")));
        Assert.StartsWith("interface \"nope0\" not found", missing.Message);

        Node.Exec("ip", "link", "add", "bare0", "type", "veth", "peer", "name", "bare1"); // down, so not even a link-local address
        var bare = Assert.Throws<ArgumentException>(() => Node.Run(() => NetworkInterfaces.Get("bare0")));
        Assert.StartsWith("interface \"bare0\" has no usable address", bare.Message);

        Assert.Throws<ArgumentException>(() => NetworkInterfaces.Get("name/with/slashes"));

        using var manager = Node.Run(() => new NetlinkAddressManager());
        var noDevice = Assert.Throws<NetlinkException>(() => manager.Add(9999, VipV4, 24));
        Assert.Equal(19, noDevice.Errno); // ENODEV
        Assert.Contains("adding 198.18.0.100/24 to interface 9999", noDevice.Message);
        var prefix = Assert.Throws<ArgumentOutOfRangeException>(() => manager.Add(1, VipV4, 33));
        Assert.Equal("prefixLength", prefix.ParamName);
    }
}
