using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Netlink;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// Reports address additions and removals (RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR) in the network
/// namespace of the constructing thread, so the speaker can put back a VIP someone removed while it
/// is MASTER. One reader at a time. After a <see cref="NetlinkOverrunException"/>, list the addresses again.
/// </summary>
public sealed class NetlinkAddressWatcher : IDisposable
{
    private const int KernelReceiveBufferBytes = 1024 * 1024; // rides out bursts, e.g. hundreds of VIPs at once
    private readonly NetlinkSocket _netlink;
    // The kernel sends each address notification alone in its datagram (rtmsg_ifa: one RTM_NEWADDR or RTM_DELADDR of
    // about 100 bytes), so a page would do; 64 KiB per instance was 0.6 MB of the agent's heap at 10 instances.
    private readonly byte[] _buffer = new byte[8 * 1024];
    private readonly Queue<AddressChange> _pending = new();

    public NetlinkAddressWatcher() =>
        _netlink = new NetlinkSocket(NetlinkSocket.RTMGRP_IPV4_IFADDR | NetlinkSocket.RTMGRP_IPV6_IFADDR, KernelReceiveBufferBytes);

    /// <summary>The next change.</summary>
    public async ValueTask<AddressChange> ReadAsync(CancellationToken ct)
    {
        while (_pending.Count == 0)
        {
            int received;
            try
            {
                received = await _netlink.Socket.ReceiveAsync(_buffer, SocketFlags.None, ct).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
            {
                throw new NetlinkOverrunException(e);
            }
            Decode(_buffer.AsSpan(0, received), _pending);
        }
        return _pending.Dequeue();
    }

    internal static void Decode(ReadOnlySpan<byte> datagram, Queue<AddressChange> changes)
    {
        while (!datagram.IsEmpty)
        {
            if (!NetlinkHeader.TryRead(datagram, out NetlinkHeader header, out string? error))
                throw new InvalidDataException($"address notification: {error}");
            ReadOnlySpan<byte> body = datagram[NetlinkHeader.Size..header.Length];
            datagram = datagram[Math.Min(NetlinkHeader.Align(header.Length), datagram.Length)..];
            if (header.Type is not (NetlinkHeader.RTM_NEWADDR or NetlinkHeader.RTM_DELADDR))
                continue;
            if (!AddressMessage.TryRead(body, out AddressMessage message, out error))
                throw new InvalidDataException($"address notification: {error}");
            changes.Enqueue(new AddressChange(header.Type == NetlinkHeader.RTM_NEWADDR, NetlinkAddressManager.ToInterfaceAddress(message)));
        }
    }

    public void Dispose() => _netlink.Dispose();
}
