using System.Runtime.InteropServices;

namespace NginxHa.NodeAgent.Network;

/// <summary>The kernel refused a netlink request; <see cref="Errno"/> is the Linux error number.</summary>
public sealed class NetlinkException(int errno, string operation)
    : IOException($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
{
    public int Errno { get; } = errno;
}

/// <summary>
/// The kernel dropped address notifications because the watcher's receive buffer was full (ENOBUFS).
/// The watcher keeps working; the caller should list the addresses again to resynchronise.
/// </summary>
public sealed class NetlinkOverrunException(Exception inner)
    : IOException("netlink address notifications were lost (receive buffer overrun); list the addresses again", inner);
