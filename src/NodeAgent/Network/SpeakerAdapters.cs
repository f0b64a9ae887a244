using System.Net;
using NginxHa.NodeAgent.Vrrp;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Network;

/// <summary>The speaker's view of one interface's addresses, through netlink.</summary>
public sealed class NetlinkVirtualAddressTable(int interfaceIndex) : IVirtualAddressTable
{
    readonly NetlinkAddressManager _manager = new();
    readonly NetlinkAddressWatcher _watcher = new();

    public void Add(VirtualIp address) => _manager.Add(interfaceIndex, address.Address, address.PrefixLength);

    /// <summary>Removes the VIP only while it carries our mark: an address someone else added is never deleted.</summary>
    public void Remove(VirtualIp address)
    {
        var present = _manager.List(interfaceIndex).FirstOrDefault(a => a.Address.Equals(new IPAddress(address.Address.GetAddressBytes())));
        if (present is { IsOwned: true })
            _manager.Remove(interfaceIndex, address.Address, address.PrefixLength);
    }

    public IReadOnlyList<VirtualIp> ListOwned() =>
        _manager.List(interfaceIndex).Where(a => a.IsOwned).Select(a => new VirtualIp(a.Address, a.PrefixLength)).ToArray();

    public async ValueTask<IPAddress> WaitForRemovalAsync(CancellationToken ct)
    {
        while (true)
        {
            var change = await _watcher.ReadAsync(ct).ConfigureAwait(false);
            if (!change.Added && change.Address.InterfaceIndex == interfaceIndex)
                return change.Address.Address;
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        _manager.Dispose();
    }
}

public sealed class GratuitousAnnouncerAdapter(GratuitousAnnouncer announcer) : IAddressAnnouncer
{
    public void Announce(IReadOnlyList<IPAddress> addresses) => announcer.Announce(addresses);

    public void Dispose() => announcer.Dispose();
}
