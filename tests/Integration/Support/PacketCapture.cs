using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Captures every Ethernet frame on one interface through an AF_PACKET socket (ETH_P_ALL). Open it
/// inside a namespace with <see cref="LabNode.Run{T}"/>; read frames from anywhere.
/// </summary>
public sealed class PacketCapture : IDisposable
{
    private const ushort EthPAll = 0x0003;
    private readonly Socket _socket;

    private PacketCapture(Socket socket) => _socket = socket;

    [DllImport("libc", EntryPoint = "if_nametoindex", SetLastError = true)]
    private static extern uint IfNameToIndex(string name);

    /// <summary>Opens a capture on <paramref name="interfaceName"/> in the calling thread's namespace.</summary>
    public static PacketCapture Open(string interfaceName) => new(OpenSocket(interfaceName));

    /// <summary>The bound AF_PACKET socket itself, for a reader that blocks on a thread of its own.</summary>
    public static Socket OpenSocket(string interfaceName)
    {
        int index = (int)IfNameToIndex(interfaceName);
        if (index == 0)
            throw new ArgumentException($"interface \"{interfaceName}\" not found", nameof(interfaceName));
        var socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(EthPAll));
        try
        {
            socket.Bind(new CaptureEndPoint(index));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The first frame <paramref name="match"/> accepts, or TimeoutException.</summary>
    public async Task<byte[]> NextAsync(Func<byte[], bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                int length = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                byte[] frame = buffer[..length];
                if (match(frame))
                    return frame;
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"no matching frame within {timeout.TotalSeconds} s");
        }
    }

    /// <summary>
    /// Blocks until a frame arrives (its length) or <paramref name="timeout"/> passes (0): for capture threads of
    /// their own, whose timing must not depend on the thread pool.
    /// </summary>
    public int Receive(byte[] buffer, TimeSpan timeout)
    {
        if (!_socket.Poll(timeout, SelectMode.SelectRead)) return 0;
        return _socket.Receive(buffer);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>sockaddr_ll: family(2) protocol(2, network order) ifindex(4) rest zero.</summary>
    private sealed class CaptureEndPoint(int interfaceIndex) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            var address = new SocketAddress(AddressFamily.Packet, 20);
            BinaryPrimitives.WriteUInt16BigEndian(address.Buffer.Span[2..], EthPAll);
            BinaryPrimitives.WriteInt32LittleEndian(address.Buffer.Span[4..], interfaceIndex);
            return address;
        }
    }
}
