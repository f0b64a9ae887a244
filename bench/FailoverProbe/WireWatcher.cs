using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;

namespace NginxHa.Bench.FailoverProbe;

/// <summary>
/// Watches every interface of the current network namespace through an AF_PACKET socket and reports
/// VRRP adverts and ARP packets with the Stopwatch timestamp of their arrival in user space.
/// </summary>
public sealed class WireWatcher : IDisposable
{
    private const ushort EtherTypeAll = 0x0003; // ETH_P_ALL: every protocol, both directions.

    private readonly Socket _socket;
    private readonly Thread _reader;
    private volatile bool _stopping;

    public event Action<WireFrame, long>? FrameSeen;

    private WireWatcher()
    {
        // The protocol of a packet socket is given in network byte order.
        _socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(EtherTypeAll));
        // A bounded wait lets the reader notice Dispose: closing a socket does not wake a blocked recv on Linux.
        _socket.ReceiveTimeout = 200;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "wire-watcher" };
    }

    public static WireWatcher Start()
    {
        var watcher = new WireWatcher();
        watcher._reader.Start();
        return watcher;
    }

    private void ReadLoop()
    {
        var buffer = new byte[65536];
        while (!_stopping)
        {
            int length;
            try
            {
                length = _socket.Receive(buffer);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            var arrival = Stopwatch.GetTimestamp();
            if (WireFrameReader.TryRead(buffer.AsSpan(0, length), out var frame, out _))
                FrameSeen?.Invoke(frame, arrival);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _socket.Dispose();
    }
}
