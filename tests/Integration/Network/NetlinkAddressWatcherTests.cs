using System.Net;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Network;

namespace NginxHa.Integration.Tests.Network;

public sealed class NetlinkAddressWatcherTests : IDisposable
{
    private readonly NetworkLab _lab = NetworkLab.Create("nio", 1);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Watcher_reports_our_add_and_a_removal_done_with_ip_addr_del()
    {
        var node = _lab.Nodes[0];
        var vip = IPAddress.Parse("198.18.0.100");
        var iface = node.Run(() => NetworkInterfaces.Get("eth0"));
        using var watcher = node.Run(() => new NetlinkAddressWatcher());
        using var manager = node.Run(() => new NetlinkAddressManager());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        manager.Add(iface.Index, vip, 24);
        var added = await NextFor(watcher, vip, timeout.Token);
        Assert.True(added.Added);
        Assert.True(added.Address.IsOwned);
        Assert.Equal((iface.Index, 24), (added.Address.InterfaceIndex, added.Address.PrefixLength));

        node.Exec("ip", "addr", "del", "198.18.0.100/24", "dev", "eth0");
        var removed = await NextFor(watcher, vip, timeout.Token);
        Assert.False(removed.Added);
        Assert.Equal(iface.Index, removed.Address.InterfaceIndex);
        Assert.True(removed.Address.IsOwned, "the deletion notice still carries the protocol tag");
    }

    [Fact]
    public async Task Watcher_sees_IPv6_changes_too()
    {
        var node = _lab.Nodes[0];
        var vip = IPAddress.Parse("fd00::100");
        using var watcher = node.Run(() => new NetlinkAddressWatcher());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        node.Exec("ip", "addr", "add", "fd00::100/64", "dev", "eth0", "nodad");
        var added = await NextFor(watcher, vip, timeout.Token);
        Assert.True(added.Added);
        Assert.False(added.Address.IsOwned, "added by ip, not by us");

        node.Exec("ip", "addr", "del", "fd00::100/64", "dev", "eth0");
        Assert.False((await NextFor(watcher, vip, timeout.Token)).Added);
    }

    private static async Task<AddressChange> NextFor(NetlinkAddressWatcher watcher, IPAddress address, CancellationToken ct)
    {
        while (true)
        {
            var change = await watcher.ReadAsync(ct);
            if (change.Address.Address.Equals(address))
                return change;
        }
    }
}
