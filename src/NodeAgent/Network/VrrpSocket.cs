using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using NginxHa.NodeAgent.Network.Ip;
using NginxHa.NodeAgent.Network.Native;

namespace NginxHa.NodeAgent.Network;

/// <summary>
/// A VRRP message as received: addresses, TTL / hop limit and interface from the IP layer, and when the kernel
/// took it off the wire (wall clock, UTC; null if the kernel gave no timestamp).
/// </summary>
public readonly record struct ReceivedVrrpPacket(IPAddress Source, IPAddress Destination, int TtlOrHopLimit, int InterfaceIndex,
    ReadOnlyMemory<byte> Message, DateTime? KernelReceivedUtc = null);

/// <summary>
/// Raw socket for IP protocol 112 on one interface (SO_BINDTODEVICE), in the network namespace of the
/// thread that opens it. Multicast mode joins 224.0.0.18 / ff02::12 with loopback off; unicast mode
/// sends to the peers only. TTL / hop limit 255 for both; IPv4 TOS 0xc0 as keepalived sends, and the
/// same network-control class as IPv6 traffic class. The source is pinned per packet with IP_PKTINFO / IPV6_PKTINFO
/// because the VRRPv3 checksum covers it: binding the socket instead would make the kernel drop
/// multicast to the group on IPv4. The kernel never touches the payload (IPV6_CHECKSUM stays off).
/// One receiver at a time; sending may run alongside.
/// </summary>
public sealed class VrrpSocket : IDisposable
{
    public const int IPProtocolVrrp = 112;
    public static readonly IPAddress IPv4Group = IPAddress.Parse("224.0.0.18");
    public static readonly IPAddress IPv6Group = IPAddress.Parse("ff02::12");
    public const byte NetworkControlTrafficClass = 0xc0;
    public const int TtlOrHopLimit = 255;

    // Socket options not named by .NET (linux/in.h, linux/in6.h, asm-generic/socket.h).
    private const int SOL_SOCKET = 1;
    private const int SO_BINDTODEVICE = 25;
    private const int SO_TIMESTAMPNS = 35;      // also SCM_TIMESTAMPNS, the control message type
    private const int TimeSpecSize = 16;        // struct timespec (LP64): tv_sec, tv_nsec
    private const int IPPROTO_IP = 0;
    private const int IP_PKTINFO = 8;
    private const int IPPROTO_IPV6 = 41;
    private const int IPV6_RECVPKTINFO = 49;
    private const int IPV6_PKTINFO = 50;
    private const int IPV6_RECVHOPLIMIT = 51;
    private const int IPV6_HOPLIMIT = 52;
    private const int IPV6_TCLASS = 67;
    private const int IPv4PacketInfoSize = 12;  // struct in_pktinfo: ifindex(4) spec_dst(4) addr(4)
    private const int IPv6PacketInfoSize = 20;  // struct in6_pktinfo: addr(16) ifindex(4)
    private const int ReceiveBufferSize = 8192; // VRRP with 255 IPv6 addresses is 4 KiB

    private readonly Socket _socket;
    private readonly NetworkInterfaceInfo _iface;
    private readonly byte[] _receiveBuffer = new byte[ReceiveBufferSize];
    // The receive buffers are shared: the receive thread and TryReceiveQueued (the event loop) take turns.
    private readonly Lock _receiveGate = new();
    private readonly byte[] _receiveControl = new byte[128];
    private readonly byte[] _receiveName = new byte[SocketAddresses.IPv6Size];

    private VrrpSocket(Socket socket, NetworkInterfaceInfo iface, AddressFamily family, IPAddress source, IReadOnlyList<IPAddress> destinations)
    {
        _socket = socket;
        _iface = iface;
        Family = family;
        SourceAddress = source;
        Destinations = destinations;
        IsMulticast = destinations is [var only] && (only.Equals(IPv4Group) || only.Equals(IPv6Group));
    }

    public AddressFamily Family { get; }

    /// <summary>The interface's primary IPv4, or its IPv6 link-local (with the interface as scope id).</summary>
    public IPAddress SourceAddress { get; }

    /// <summary>The multicast group, or the unicast peers.</summary>
    public IReadOnlyList<IPAddress> Destinations { get; }

    public bool IsMulticast { get; }

    /// <summary>A packet was discarded (malformed, wrong interface, truncated); the text says why.</summary>
    public event Action<string>? PacketDropped;

    /// <param name="unicastPeers">empty for multicast; otherwise the peers' addresses, all of <paramref name="family"/>.</param>
    public static VrrpSocket Open(NetworkInterfaceInfo iface, AddressFamily family, IReadOnlyList<IPAddress> unicastPeers)
    {
        ArgumentNullException.ThrowIfNull(iface);
        ArgumentNullException.ThrowIfNull(unicastPeers);
        IPAddress source = SourceFor(iface, family);
        CheckUnicastPeers(family, unicastPeers);
        IReadOnlyList<IPAddress> destinations = unicastPeers.Count == 0 ? [GroupOf(family)] : [.. unicastPeers];
        return OpenCore(iface, family, source, destinations, joinGroup: unicastPeers.Count == 0);
    }

    /// <summary>
    /// A socket that several speakers share (<see cref="VrrpSockets"/>): its <see cref="Destinations"/> is the group, and
    /// it joins the group only on <see cref="JoinGroup"/> (for the first multicast speaker; unicast ones send to their peers).
    /// </summary>
    internal static VrrpSocket OpenShared(NetworkInterfaceInfo iface, AddressFamily family)
    {
        ArgumentNullException.ThrowIfNull(iface);
        return OpenCore(iface, family, SourceFor(iface, family), [GroupOf(family)], joinGroup: false);
    }

    /// <summary>The interface's primary IPv4 or IPv6 link-local address: where adverts of <paramref name="family"/> come from.</summary>
    public static IPAddress SourceFor(NetworkInterfaceInfo iface, AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => iface.PrimaryIPv4
            ?? throw new ArgumentException($"interface \"{iface.Name}\" has no primary IPv4 address to send VRRP from", nameof(iface)),
        AddressFamily.InterNetworkV6 => iface.LinkLocalIPv6
            ?? throw new ArgumentException($"interface \"{iface.Name}\" has no IPv6 link-local address to send VRRP from", nameof(iface)),
        _ => throw new ArgumentException($"VRRP runs over IPv4 or IPv6, not {family}", nameof(family)),
    };

    static IPAddress GroupOf(AddressFamily family) => family == AddressFamily.InterNetwork ? IPv4Group : IPv6Group;

    /// <summary>Each peer must be a unicast address of <paramref name="family"/>.</summary>
    public static void CheckUnicastPeers(AddressFamily family, IReadOnlyList<IPAddress> unicastPeers)
    {
        foreach (IPAddress peer in unicastPeers)
        {
            if (peer.AddressFamily != family)
                throw new ArgumentException($"unicast peer {peer} is not {family}", nameof(unicastPeers));
            if (peer.IsIPv6Multicast || (family == AddressFamily.InterNetwork && (peer.GetAddressBytes()[0] & 0xf0) == 0xe0)
                || peer.Equals(IPAddress.Any) || peer.Equals(IPAddress.IPv6Any) || peer.Equals(IPAddress.Broadcast))
                throw new ArgumentException($"unicast peer {peer} is not a unicast address", nameof(unicastPeers));
        }
    }

    private static VrrpSocket OpenCore(NetworkInterfaceInfo iface, AddressFamily family, IPAddress source, IReadOnlyList<IPAddress> destinations,
        bool joinGroup)
    {
        Socket socket = LibC.OpenSocket(family == AddressFamily.InterNetwork ? LibC.AF_INET : LibC.AF_INET6, LibC.SOCK_RAW, IPProtocolVrrp);
        try
        {
            byte[] deviceName = Encoding.ASCII.GetBytes(iface.Name + "\0");
            socket.SetRawSocketOption(SOL_SOCKET, SO_BINDTODEVICE, deviceName);
            // The arrival time, so the master-down timer counts from the wire and not from when a thread woke.
            SetInt(socket, SOL_SOCKET, SO_TIMESTAMPNS, 1);
            if (family == AddressFamily.InterNetwork)
            {
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.TypeOfService, NetworkControlTrafficClass);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.IpTimeToLive, TtlOrHopLimit);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, TtlOrHopLimit);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, false);
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }
            else
            {
                SetInt(socket, IPPROTO_IPV6, IPV6_TCLASS, NetworkControlTrafficClass);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.IpTimeToLive, TtlOrHopLimit); // IPV6_UNICAST_HOPS
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, TtlOrHopLimit);
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, false);
                SetInt(socket, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
                SetInt(socket, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
            }
            var opened = new VrrpSocket(socket, iface, family, source, destinations);
            if (joinGroup) opened.JoinGroup();
            return opened;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Joins 224.0.0.18 / ff02::12 on the interface (once; later calls do nothing).</summary>
    public void JoinGroup()
    {
        lock (_receiveGate)
        {
            if (_joined) return;
            if (Family == AddressFamily.InterNetwork)
                _socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(IPv4Group, _iface.Index));
            else
                _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(IPv6Group, _iface.Index));
            _joined = true;
        }
    }

    private bool _joined;

    /// <summary>
    /// Blocks until a datagram is queued (true) or <paramref name="wakeFd"/>, an eventfd, is readable (false; not drained).
    /// No periodic wake-up: a shared receive thread sleeps until traffic or its stop.
    /// </summary>
    internal unsafe bool WaitReadable(int wakeFd)
    {
        var fds = stackalloc Platform.Posix.PollFd[2];
        fds[0] = new Platform.Posix.PollFd { Fd = (int)_socket.Handle, Events = Platform.Posix.POLLIN };
        fds[1] = new Platform.Posix.PollFd { Fd = wakeFd, Events = Platform.Posix.POLLIN };
        while (Platform.Posix.Poll(fds, 2, -1) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibC.EINTR) throw new SocketException(errno);
        }
        return (fds[1].ReturnedEvents & Platform.Posix.POLLIN) == 0;
    }

    /// <summary>Sends one VRRP message (the payload; the kernel adds the IP header) from <see cref="SourceAddress"/>.</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> vrrpMessage, IPAddress destination, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (destination.AddressFamily != Family)
            throw new ArgumentException($"destination {destination} is not {Family}", nameof(destination));
        if (vrrpMessage.IsEmpty)
            throw new ArgumentException("VRRP message is empty", nameof(vrrpMessage));
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            int errno = TrySend(vrrpMessage.Span, destination);
            if (errno == 0)
                return;
            if (errno is not (LibC.EAGAIN or LibC.EINTR))
                throw new SocketException(errno);
            // Send buffer full (rare for a few adverts a second): wait until it drains.
            await Task.Run(() => _socket.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectWrite), ct).ConfigureAwait(false);
        }
    }

    private unsafe int TrySend(ReadOnlySpan<byte> message, IPAddress destination)
    {
        Span<byte> name = stackalloc byte[SocketAddresses.IPv6Size];
        int nameLength = SocketAddresses.WriteIP(name, destination, _iface.Index);
        Span<byte> control = stackalloc byte[ControlMessages.Space(IPv6PacketInfoSize)];
        int controlLength;
        if (Family == AddressFamily.InterNetwork)
        {
            Span<byte> info = ControlMessages.Write(control, IPPROTO_IP, IP_PKTINFO, IPv4PacketInfoSize);
            BinaryPrimitives.WriteInt32LittleEndian(info, _iface.Index);
            SourceAddress.TryWriteBytes(info[4..], out _); // ipi_spec_dst: the source address
            controlLength = ControlMessages.Space(IPv4PacketInfoSize);
        }
        else
        {
            Span<byte> info = ControlMessages.Write(control, IPPROTO_IPV6, IPV6_PKTINFO, IPv6PacketInfoSize);
            SourceAddress.TryWriteBytes(info, out _);
            BinaryPrimitives.WriteInt32LittleEndian(info[16..], _iface.Index);
            controlLength = ControlMessages.Space(IPv6PacketInfoSize);
        }
        fixed (byte* messagePointer = message)
        fixed (byte* namePointer = name)
        fixed (byte* controlPointer = control)
        {
            var vector = new LibC.IoVector { Base = messagePointer, Length = (nuint)message.Length };
            var header = new LibC.MessageHeader
            {
                Name = namePointer,
                NameLength = (uint)nameLength,
                Vectors = &vector,
                VectorCount = 1,
                Control = controlPointer,
                ControlLength = (nuint)controlLength,
            };
            return LibC.SendMsg(_socket.SafeHandle, &header, LibC.MSG_DONTWAIT) < 0 ? Marshal.GetLastPInvokeError() : 0;
        }
    }

    /// <summary>
    /// The next VRRP message from another router on this interface; our own packets are skipped, malformed or
    /// foreign ones are skipped and reported through <see cref="PacketDropped"/>. The only receive path, the one the
    /// speaker's receive thread uses: poll(2) on the calling thread wakes the moment a datagram
    /// arrives, with no epoll thread or thread-pool hop (the speaker's master-down timer counts from this moment).
    /// Cancellation is checked every <see cref="ReceivePollSlice"/>.
    /// </summary>
    public ReceivedVrrpPacket Receive(CancellationToken ct)
    {
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (!_socket.Poll(ReceivePollSlice, SelectMode.SelectRead))
                continue;
            ReceiveOutcome outcome;
            ReceivedVrrpPacket packet;
            string? dropReason;
            lock (_receiveGate) outcome = TryReceive(out packet, out dropReason);
            if (outcome == ReceiveOutcome.Packet)
                return packet;
            if (outcome == ReceiveOutcome.Dropped)
                PacketDropped?.Invoke(dropReason!);
        }
    }

    /// <summary>
    /// A VRRP message the kernel already holds, without waiting: false when the socket is empty. The speaker's event
    /// loop reads what is queued before it acts on a due timer, as keepalived reads a readable socket first, so an
    /// advert that arrived in time is never beaten by a master-down timer because the receive thread was not scheduled.
    /// </summary>
    public bool TryReceiveQueued(out ReceivedVrrpPacket packet)
    {
        while (true)
        {
            ReceiveOutcome outcome;
            string? dropReason;
            lock (_receiveGate) outcome = TryReceive(out packet, out dropReason);
            switch (outcome)
            {
                case ReceiveOutcome.Packet:
                    return true;
                case ReceiveOutcome.Empty:
                    return false;
                case ReceiveOutcome.Dropped:
                    PacketDropped?.Invoke(dropReason!);
                    break;
            }
        }
    }

    private static readonly TimeSpan ReceivePollSlice = TimeSpan.FromMilliseconds(50);

    // Nothing: a datagram that is not for us (our own); Empty: the socket holds nothing more.
    private enum ReceiveOutcome { Packet, Nothing, Dropped, Empty }

    private unsafe ReceiveOutcome TryReceive(out ReceivedVrrpPacket packet, out string? dropReason)
    {
        packet = default;
        dropReason = null;
        nint received;
        LibC.MessageHeader header;
        fixed (byte* buffer = _receiveBuffer)
        fixed (byte* name = _receiveName)
        fixed (byte* controlBuffer = _receiveControl)
        {
            var vector = new LibC.IoVector { Base = buffer, Length = (nuint)_receiveBuffer.Length };
            header = new LibC.MessageHeader
            {
                Name = name,
                NameLength = (uint)_receiveName.Length,
                Vectors = &vector,
                VectorCount = 1,
                Control = controlBuffer,
                ControlLength = (nuint)_receiveControl.Length,
            };
            received = LibC.RecvMsg(_socket.SafeHandle, &header, LibC.MSG_DONTWAIT);
        }
        if (received < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is LibC.EAGAIN)
                return ReceiveOutcome.Empty;
            if (errno is LibC.EINTR)
                return ReceiveOutcome.Nothing;
            throw new SocketException(errno);
        }
        if ((header.Flags & LibC.MSG_TRUNC) != 0)
        {
            dropReason = $"packet larger than {_receiveBuffer.Length} bytes";
            return ReceiveOutcome.Dropped;
        }
        ReadOnlySpan<byte> data = _receiveBuffer.AsSpan(0, (int)received);
        ReadOnlySpan<byte> control = _receiveControl.AsSpan(0, (int)header.ControlLength);
        bool ok = Family == AddressFamily.InterNetwork
            ? TryParseIPv4(data, control, out packet, out dropReason)
            : TryParseIPv6(data, control, _receiveName.AsSpan(0, (int)header.NameLength), out packet, out dropReason);
        if (!ok)
            return ReceiveOutcome.Dropped;
        if (packet.InterfaceIndex != _iface.Index)
        {
            dropReason = $"packet from {packet.Source} arrived on interface {packet.InterfaceIndex}, not {_iface.Name} ({_iface.Index})";
            return ReceiveOutcome.Dropped;
        }
        if (IsOurs(packet.Source))
            return ReceiveOutcome.Nothing;
        return ReceiveOutcome.Packet;
    }

    internal static bool TryParseIPv4(ReadOnlySpan<byte> data, ReadOnlySpan<byte> control, out ReceivedVrrpPacket packet, out string? error)
    {
        packet = default;
        if (!IPv4Header.TryRead(data, out IPv4Header ip, out error))
            return false;
        if (ip.Protocol != IPProtocolVrrp)
        {
            error = $"IPv4 protocol is {ip.Protocol}, expected {IPProtocolVrrp}";
            return false;
        }
        if (!ControlMessages.TryFind(control, IPPROTO_IP, IP_PKTINFO, out ReadOnlySpan<byte> info) || info.Length < IPv4PacketInfoSize)
        {
            error = "no IP_PKTINFO with the packet";
            return false;
        }
        int ifIndex = BinaryPrimitives.ReadInt32LittleEndian(info);
        packet = new ReceivedVrrpPacket(ip.Source, ip.Destination, ip.TimeToLive, ifIndex, data[ip.HeaderLength..ip.TotalLength].ToArray(),
            ReadKernelTimestamp(control));
        return true;
    }

    internal static bool TryParseIPv6(ReadOnlySpan<byte> data, ReadOnlySpan<byte> control, ReadOnlySpan<byte> name, out ReceivedVrrpPacket packet, out string? error)
    {
        packet = default;
        if (!SocketAddresses.TryReadIPv6(name, out IPAddress source))
        {
            error = "no IPv6 source address with the packet";
            return false;
        }
        if (!ControlMessages.TryFind(control, IPPROTO_IPV6, IPV6_PKTINFO, out ReadOnlySpan<byte> info) || info.Length < IPv6PacketInfoSize)
        {
            error = "no IPV6_PKTINFO with the packet";
            return false;
        }
        if (!ControlMessages.TryFind(control, IPPROTO_IPV6, IPV6_HOPLIMIT, out ReadOnlySpan<byte> hopLimit) || hopLimit.Length < sizeof(int))
        {
            error = "no IPV6_HOPLIMIT with the packet";
            return false;
        }
        var destination = new IPAddress(info[..16]);
        int ifIndex = BinaryPrimitives.ReadInt32LittleEndian(info[16..]);
        if (destination.IsIPv6LinkLocal)
            destination.ScopeId = ifIndex;
        packet = new ReceivedVrrpPacket(source, destination, BinaryPrimitives.ReadInt32LittleEndian(hopLimit), ifIndex, data.ToArray(),
            ReadKernelTimestamp(control));
        error = null;
        return true;
    }

    /// <summary>SCM_TIMESTAMPNS as UTC; null when absent or out of range (then the reader's clock stands in).</summary>
    internal static DateTime? ReadKernelTimestamp(ReadOnlySpan<byte> control)
    {
        if (!ControlMessages.TryFind(control, SOL_SOCKET, SO_TIMESTAMPNS, out ReadOnlySpan<byte> stamp) || stamp.Length < TimeSpecSize)
            return null;
        long seconds = BinaryPrimitives.ReadInt64LittleEndian(stamp);
        long nanoseconds = BinaryPrimitives.ReadInt64LittleEndian(stamp[8..]);
        if (seconds <= 0 || seconds > 253_402_300_799 || nanoseconds is < 0 or >= 1_000_000_000)
            return null;
        return DateTime.UnixEpoch.AddTicks(seconds * TimeSpan.TicksPerSecond + nanoseconds / 100);
    }

    private bool IsOurs(IPAddress source)
    {
        Span<byte> ours = stackalloc byte[16];
        Span<byte> theirs = stackalloc byte[16];
        SourceAddress.TryWriteBytes(ours, out int oursLength);
        source.TryWriteBytes(theirs, out int theirsLength);
        return ours[..oursLength].SequenceEqual(theirs[..theirsLength]);
    }

    private static void SetInt(Socket socket, int level, int name, int value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        socket.SetRawSocketOption(level, name, bytes);
    }

    public void Dispose() => _socket.Dispose();
}
