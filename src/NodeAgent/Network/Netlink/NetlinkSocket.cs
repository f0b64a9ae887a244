using System.Buffers;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Native;

namespace NginxHa.NodeAgent.Network.Netlink;

/// <summary>
/// A NETLINK_ROUTE socket in the calling thread's network namespace. Request/response use is
/// serialised; a socket bound to multicast groups is read with <see cref="Socket"/> directly.
/// </summary>
internal sealed class NetlinkSocket : IDisposable
{
    private const int NETLINK_ROUTE = 0;
    public const uint RTMGRP_LINK = 0x1;
    public const uint RTMGRP_IPV4_IFADDR = 0x10;
    public const uint RTMGRP_IPV6_IFADDR = 0x100;
    private const int ReceiveBufferSize = 64 * 1024; // dump datagrams are at most 32 KiB
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private uint _sequence;

    public NetlinkSocket(uint groups = 0, int kernelReceiveBufferBytes = 0)
    {
        Socket = LibC.OpenSocket(LibC.AF_NETLINK, LibC.SOCK_RAW, NETLINK_ROUTE);
        try
        {
            if (kernelReceiveBufferBytes > 0)
                Socket.ReceiveBufferSize = kernelReceiveBufferBytes;
            LibC.Bind(Socket, SocketAddresses.Netlink(groups));
            Socket.ReceiveTimeout = (int)ReplyTimeout.TotalMilliseconds;
        }
        catch
        {
            Socket.Dispose();
            throw;
        }
    }

    public Socket Socket { get; }

    public uint NextSequence() => Interlocked.Increment(ref _sequence);

    /// <summary>Sends a request that carries NLM_F_ACK and returns the kernel's errno (0 = done).</summary>
    public int Execute(ReadOnlySpan<byte> request, uint sequence)
    {
        lock (_gate)
        {
            Socket.Send(request);
            int errno = -1;
            Collect(sequence, responseType: 0, results: null, ref errno, out _);
            return errno;
        }
    }

    /// <summary>
    /// Sends a get or dump request and returns the bodies of the replies of <paramref name="responseType"/>.
    /// <paramref name="interrupted"/> tells that the dump changed while it ran (NLM_F_DUMP_INTR): run it again.
    /// </summary>
    public List<byte[]> Query(ReadOnlySpan<byte> request, uint sequence, ushort responseType, out int errno, out bool interrupted)
    {
        lock (_gate)
        {
            Socket.Send(request);
            var results = new List<byte[]>();
            errno = -1;
            Collect(sequence, responseType, results, ref errno, out interrupted);
            if (errno < 0)
                errno = 0;
            return results;
        }
    }

    /// <summary>
    /// Reads the replies into a buffer borrowed for the request only: each instance holds three netlink sockets
    /// (addresses, address and link notifications), and a 64 KiB buffer owned by each socket was 2 MB of the agent's
    /// heap at 10 instances, kept for requests that run at a take-over or a release (docs/benchmarks.md, "Agent cost").
    /// </summary>
    private void Collect(uint sequence, ushort responseType, List<byte[]>? results, ref int errno, out bool interrupted)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        try
        {
            Collect(buffer, sequence, responseType, results, ref errno, out interrupted);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Collect(byte[] buffer, uint sequence, ushort responseType, List<byte[]>? results, ref int errno, out bool interrupted)
    {
        interrupted = false;
        while (true)
        {
            int received;
            try
            {
                received = Socket.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                throw new TimeoutException($"netlink: no reply to request {sequence} within {ReplyTimeout.TotalSeconds} s", e);
            }
            ReadOnlySpan<byte> datagram = buffer.AsSpan(0, received);
            while (!datagram.IsEmpty)
            {
                if (!NetlinkHeader.TryRead(datagram, out NetlinkHeader header, out string? error))
                    throw new InvalidDataException($"netlink reply: {error}");
                ReadOnlySpan<byte> body = datagram[NetlinkHeader.Size..header.Length];
                datagram = datagram[Math.Min(NetlinkHeader.Align(header.Length), datagram.Length)..];
                if (header.Sequence != sequence)
                    continue; // a late reply to an earlier request that timed out
                if ((header.Flags & NetlinkHeader.NLM_F_DUMP_INTR) != 0)
                    interrupted = true;
                switch (header.Type)
                {
                    case NetlinkHeader.NLMSG_ERROR:
                        if (!NetlinkHeader.TryReadError(body, out errno, out error))
                            throw new InvalidDataException($"netlink reply: {error}");
                        return;
                    case NetlinkHeader.NLMSG_DONE:
                        return;
                    default:
                        if (header.Type == responseType && results is not null)
                        {
                            results.Add(body.ToArray());
                            if ((header.Flags & NetlinkHeader.NLM_F_MULTI) == 0)
                                return; // a single reply to a plain get
                        }
                        break;
                }
            }
        }
    }

    public void Dispose() => Socket.Dispose();
}
