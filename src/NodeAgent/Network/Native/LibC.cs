using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Network.Native;

/// <summary>
/// The few libc calls .NET does not offer: sockets of families/protocols its native layer refuses
/// (netlink, IP protocol 112), bind with a raw sockaddr, and sendmsg/recvmsg for ancillary data.
/// Struct layouts assume 64-bit little-endian Linux, checked by <see cref="EnsureSupported"/>.
/// </summary>
internal static unsafe partial class LibC
{
    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int AF_NETLINK = 16;
    public const int SOCK_RAW = 3;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_CTRUNC = 0x08;
    public const int EAGAIN = 11;
    public const int EINTR = 4;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int SocketNative(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int BindNative(SafeSocketHandle socket, byte* address, int addressLength);

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint SendMsg(SafeSocketHandle socket, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint RecvMsg(SafeSocketHandle socket, MessageHeader* message, int flags);

    public static void EnsureSupported()
    {
        // Netlink fields are in host order, read here as little-endian; msghdr/cmsghdr use the LP64 layout.
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess || !BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("the node agent's network layer needs 64-bit little-endian Linux");
    }

    /// <summary>Opens a socket with libc and hands it to .NET, which then owns and closes it.</summary>
    public static Socket OpenSocket(int domain, int type, int protocol)
    {
        EnsureSupported();
        int fd = SocketNative(domain, type | SOCK_CLOEXEC, protocol);
        if (fd < 0)
            throw new SocketException(Marshal.GetLastPInvokeError());
        return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
    }

    public static void Bind(Socket socket, ReadOnlySpan<byte> socketAddress)
    {
        fixed (byte* address = socketAddress)
        {
            if (BindNative(socket.SafeHandle, address, socketAddress.Length) != 0)
                throw new SocketException(Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>struct msghdr (LP64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public void* Base;
        public nuint Length;
    }
}
