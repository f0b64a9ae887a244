using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using NginxHa.Core.Planning;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>
/// The virtual routers this node's speakers hear on the wire (any VRID, decoded adverts only), for the planner:
/// automatic VRIDs avoid foreign ones (docs/vrid-allocation.md). A router not heard for <see cref="Forget"/> is
/// gone. Speakers record from their own threads; the planner reads a snapshot.
/// </summary>
public sealed class HeardRouters(TimeProvider time)
{
    public static readonly TimeSpan Forget = TimeSpan.FromMinutes(1);

    readonly ConcurrentDictionary<(AddressFamily Family, int Vrid), (IPAddress[] Addresses, long At)> _heard = new();

    public void Record(AddressFamily family, VrrpAdvertisement advert) =>
        _heard[(family, advert.VirtualRouterId)] = (advert.Addresses.ToArray(), time.GetTimestamp());

    public IReadOnlyList<HeardVirtualRouter> Snapshot()
    {
        var now = time.GetTimestamp();
        return _heard.Where(h => time.GetElapsedTime(h.Value.At, now) < Forget)
            .OrderBy(h => h.Key.Family).ThenBy(h => h.Key.Vrid)
            .Select(h => new HeardVirtualRouter(h.Key.Family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4", h.Key.Vrid,
                h.Value.Addresses.Select(a => a.ToString()).ToList()))
            .ToList();
    }
}
