using System.Net;
using NginxHa.Core.Resources;

namespace NginxHa.NodeAgent.Vrrp;

// The speaker's edges. Production adapters wrap the netlink / raw-socket / AF_PACKET classes in
// Network/; tests drive the speaker through in-memory ones with a fake clock.

/// <summary>Where VRRP messages go out and come in (one interface, one address family).</summary>
public interface IVrrpTransport : IDisposable
{
    IPAddress SourceAddress { get; }
    IReadOnlyList<IPAddress> Destinations { get; }
    ValueTask SendAsync(ReadOnlyMemory<byte> vrrpMessage, IPAddress destination, CancellationToken ct);
    /// <summary>
    /// Hands every message for this speaker to <paramref name="deliver"/>, on the transport's receive thread (which must
    /// only queue it), until the result is disposed; <paramref name="failed"/> is told once if receiving stops for good.
    /// </summary>
    IDisposable StartReceiving(Action<VrrpDatagram> deliver, Action<Exception> failed);
    /// <summary>A message the kernel already holds, without blocking (the event loop, before a due timer).</summary>
    bool TryReceiveQueued(out VrrpDatagram datagram);
}

/// <summary>
/// A received VRRP message with the IP-layer facts the RFC's receive checks need, and how long it waited in the
/// kernel before it was read (zero when unknown): timers count from its arrival.
/// </summary>
public readonly record struct VrrpDatagram(IPAddress Source, IPAddress Destination, int TtlOrHopLimit, ReadOnlyMemory<byte> Message,
    TimeSpan QueuedFor = default);

/// <summary>The interface's address table, as far as VIPs are concerned.</summary>
public interface IVirtualAddressTable : IDisposable
{
    void Add(VirtualIp address);
    void Remove(VirtualIp address);
    /// <summary>Addresses on the interface carrying this agent's mark (left from this or an earlier run).</summary>
    IReadOnlyList<VirtualIp> ListOwned();
    /// <summary>Completes with the next address removed from the interface by anyone.</summary>
    ValueTask<IPAddress> WaitForRemovalAsync(CancellationToken ct);
}

/// <summary>Gratuitous ARP (IPv4) / unsolicited Neighbor Advertisement (IPv6) for the VIPs.</summary>
public interface IAddressAnnouncer : IDisposable
{
    void Announce(IReadOnlyList<IPAddress> addresses);
}

/// <summary>The interface's carrier: completes with true (up) or false (down) on each change.</summary>
public interface ILinkMonitor : IDisposable
{
    /// <summary>The carrier when the speaker starts: without it the speaker starts in FAULT, as keepalived does.</summary>
    bool InitiallyUp => true;

    ValueTask<bool> WaitForChangeAsync(CancellationToken ct);
}
