using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Netlink;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// Reports one interface's carrier going down or up (RTMGRP_LINK notifications), so the speaker gives up
/// at once when its link is gone and rejoins through a normal take-over (with gratuitous ARP) when it returns.
/// </summary>
public sealed class NetlinkLinkWatcher : Vrrp.ILinkMonitor
{
    private readonly NetlinkSocket _netlink = new(NetlinkSocket.RTMGRP_LINK);
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly int _interfaceIndex;
    private bool? _lastUp;

    /// <param name="initiallyUp">The carrier as last looked up; a change is reported relative to it.</param>
    public NetlinkLinkWatcher(int interfaceIndex, bool initiallyUp = true)
    {
        _interfaceIndex = interfaceIndex;
        _lastUp = initiallyUp;
        InitiallyUp = initiallyUp;
    }

    public bool InitiallyUp { get; }

    /// <summary>Completes when the interface's operational state differs from the last one reported.</summary>
    public async ValueTask<bool> WaitForChangeAsync(CancellationToken ct)
    {
        while (true)
        {
            int received;
            try
            {
                received = await _netlink.Socket.ReceiveAsync(_buffer, SocketFlags.None, ct).ConfigureAwait(false);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.NoBufferSpaceAvailable)
            {
                continue; // notifications were lost; the next one carries the current flags
            }
            bool? up = LastState(_buffer.AsSpan(0, received), _interfaceIndex);
            if (up is { } state && state != _lastUp)
            {
                _lastUp = state;
                return state;
            }
        }
    }

    /// <summary>The operational state the datagram's last RTM_NEWLINK for the interface reports, if any.</summary>
    internal static bool? LastState(ReadOnlySpan<byte> datagram, int interfaceIndex)
    {
        bool? up = null;
        while (!datagram.IsEmpty && NetlinkHeader.TryRead(datagram, out NetlinkHeader header, out _))
        {
            ReadOnlySpan<byte> body = datagram[NetlinkHeader.Size..header.Length];
            datagram = datagram[Math.Min(NetlinkHeader.Align(header.Length), datagram.Length)..];
            if (header.Type == NetlinkHeader.RTM_NEWLINK && LinkMessage.TryRead(body, out LinkMessage link, out _)
                && link.InterfaceIndex == interfaceIndex)
                up = link.IsOperational;
        }
        return up;
    }

    public void Dispose() => _netlink.Dispose();
}
