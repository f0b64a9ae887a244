using System.Net.Sockets;

namespace NginxHa.NodeAgent.Vrrp;

/// <summary>Reads one message the kernel already holds, without waiting; false when there is none.</summary>
public delegate bool TryReadQueued(out VrrpDatagram datagram);

/// <summary>
/// Hands each message read from a receive socket shared by several speakers (one interface, one address family) to the
/// speaker of its VRID. A raw protocol-112 socket receives every advert on the segment, so with a socket per speaker
/// each of N speakers woke, read and decoded every advert of the others (docs/benchmarks.md, "Metrics cost"); here each
/// message is read once and reaches its own speaker only. Every advert that decodes, for any VRID, is recorded in
/// <see cref="HeardRouters"/> here (VRID allocation avoids foreign ones and adopts the peers' own); a message too short
/// to name a VRID goes to every speaker, whose receive checks count it. Registration takes a lock; dispatch reads an
/// immutable table and may run on any thread.
/// </summary>
public sealed class VrrpDispatcher(AddressFamily family, HeardRouters? heard = null, string interfaceName = "")
{
    // The VRID byte sits at the same offset in VRRPv2 and v3 (RFC 3768 / 5798 section 5.1).
    const int VirtualRouterIdOffset = 1;

    readonly Lock _gate = new();
    // Replaced whole under _gate, indexed by VRID (0..255).
    volatile Member?[] _byVrid = new Member?[256];

    sealed record Member(string Owner, Action<VrrpDatagram> Deliver);

    /// <summary>
    /// Sends the messages for <paramref name="virtualRouterId"/> to <paramref name="deliver"/> until the result is disposed.
    /// </summary>
    /// <exception cref="InvalidOperationException">another speaker (named in the message) already has this VRID.</exception>
    public IDisposable Register(byte virtualRouterId, string owner, Action<VrrpDatagram> deliver)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(deliver);
        var member = new Member(owner, deliver);
        lock (_gate)
        {
            if (_byVrid[virtualRouterId] is { } taken)
                throw new InvalidOperationException($"VRID {virtualRouterId} is already run on this interface ({FamilyName}) by {taken.Owner}");
            var table = (Member?[])_byVrid.Clone();
            table[virtualRouterId] = member;
            _byVrid = table;
        }
        return new Registration(this, virtualRouterId, member);
    }

    string FamilyName => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    void Unregister(byte virtualRouterId, Member member)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_byVrid[virtualRouterId], member)) return;
            var table = (Member?[])_byVrid.Clone();
            table[virtualRouterId] = null;
            _byVrid = table;
        }
    }

    /// <summary>The VRID a message names, or null when it is too short to name one.</summary>
    public static byte? VirtualRouterIdOf(ReadOnlySpan<byte> message) =>
        message.Length > VirtualRouterIdOffset ? message[VirtualRouterIdOffset] : null;

    /// <summary>Records one message as heard and delivers it to the speaker of its VRID, if one runs here.</summary>
    public void Dispatch(VrrpDatagram datagram)
    {
        Record(datagram);
        Deliver(datagram, except: null);
    }

    /// <summary>
    /// For the speaker of <paramref name="virtualRouterId"/>, before it acts on a due timer: reads what the kernel holds
    /// until a message for that speaker comes up (true) or nothing is left (false). The others' messages read on the way
    /// are dispatched to them, so none is lost. The caller serialises this with the socket's receive thread.
    /// </summary>
    public bool TryReceiveQueuedFor(byte virtualRouterId, TryReadQueued read, out VrrpDatagram datagram)
    {
        ArgumentNullException.ThrowIfNull(read);
        while (read(out datagram))
        {
            Record(datagram);
            var vrid = VirtualRouterIdOf(datagram.Message.Span);
            if (vrid == virtualRouterId)
                return true;
            if (vrid is null)
            {
                // Every speaker's checks count a message that names no VRID: the caller's too.
                Deliver(datagram, except: virtualRouterId);
                return true;
            }
            Deliver(datagram, except: null);
        }
        return false;
    }

    // Before delivery: the speaker may act on it at once; the planner reads what was heard (docs/vrid-allocation.md).
    void Record(VrrpDatagram datagram)
    {
        if (heard is not null && VrrpPacket.TryRead(datagram.Message.Span, datagram.Source, datagram.Destination, out var advert) == VrrpDropReason.Ok)
            heard.Record(interfaceName, datagram.Source, advert!);
    }

    void Deliver(VrrpDatagram datagram, byte? except)
    {
        var table = _byVrid;
        if (VirtualRouterIdOf(datagram.Message.Span) is { } vrid)
        {
            table[vrid]?.Deliver(datagram);
            return;
        }
        for (int i = 0; i < table.Length; i++)
            if (i != except) table[i]?.Deliver(datagram);
    }

    sealed class Registration(VrrpDispatcher dispatcher, byte virtualRouterId, Member member) : IDisposable
    {
        public void Dispose() => dispatcher.Unregister(virtualRouterId, member);
    }
}
