using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Announce;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// Tells the segment that the VIPs now live at this interface's MAC: gratuitous ARP for IPv4,
/// unsolicited Neighbor Advertisement for IPv6, one frame per address, through an AF_PACKET socket
/// opened in the constructing thread's network namespace. Send only: the socket is bound to protocol 0,
/// so the kernel queues nothing to it.
/// </summary>
public sealed class GratuitousAnnouncer : IDisposable
{
    private readonly NetworkInterfaceInfo _iface;
    private readonly bool _isRouter;
    private readonly Socket _socket;

    /// <param name="iface">the interface to announce on; it needs a 6-byte Ethernet MAC.</param>
    /// <param name="isRouter">sets the Router flag in NAs; leave false unless hosts route through the VIP,
    /// since an NA without it makes hosts drop the VIP from their default router list (RFC 4861 7.2.5).</param>
    public GratuitousAnnouncer(NetworkInterfaceInfo iface, bool isRouter = false)
    {
        ArgumentNullException.ThrowIfNull(iface);
        if (iface.MacAddress.GetAddressBytes().Length != 6)
            throw new ArgumentException($"interface \"{iface.Name}\" has no Ethernet MAC address (got \"{iface.MacAddress}\")", nameof(iface));
        _iface = iface;
        _isRouter = isRouter;
        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.IP); // protocol 0: receive nothing
        try
        {
            _socket.Bind(new LinkLayerEndPoint(iface.Index, 0));
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public void Announce(IReadOnlyList<IPAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        Span<byte> frame = stackalloc byte[Math.Max(GratuitousArpFrame.Size, UnsolicitedNeighborAdvertisementFrame.Size)];
        var arp = new LinkLayerEndPoint(_iface.Index, GratuitousArpFrame.EtherTypeArp);
        var ipv6 = new LinkLayerEndPoint(_iface.Index, UnsolicitedNeighborAdvertisementFrame.EtherTypeIPv6);
        foreach (IPAddress address in addresses)
        {
            int length;
            EndPoint destination;
            switch (address.AddressFamily)
            {
                case AddressFamily.InterNetwork:
                    length = GratuitousArpFrame.Write(frame, _iface.MacAddress, address);
                    destination = arp;
                    break;
                case AddressFamily.InterNetworkV6:
                    length = UnsolicitedNeighborAdvertisementFrame.Write(frame, _iface.MacAddress, address, _isRouter);
                    destination = ipv6;
                    break;
                default:
                    throw new ArgumentException($"cannot announce {address}: neither IPv4 nor IPv6", nameof(addresses));
            }
            _socket.SendTo(frame[..length], SocketFlags.None, destination);
        }
    }

    public void Dispose() => _socket.Dispose();
}
