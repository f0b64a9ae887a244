using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Network.Native;

/// <summary>sockaddr_in / sockaddr_in6 / sockaddr_nl as the kernel lays them out (family in host order, port in network order).</summary>
internal static class SocketAddresses
{
    public const int IPv4Size = 16;   // family(2) port(2) addr(4) zero(8)
    public const int IPv6Size = 28;   // family(2) port(2) flowinfo(4) addr(16) scope_id(4)
    public const int NetlinkSize = 12; // family(2) pad(2) pid(4) groups(4)
    private const int FamilyOffset = 0;
    private const int IPv4AddressOffset = 4;
    private const int IPv6AddressOffset = 8;
    private const int IPv6ScopeOffset = 24;
    private const int NetlinkPortIdOffset = 4;
    private const int NetlinkGroupsOffset = 8;

    public static int Size(AddressFamily family) => family == AddressFamily.InterNetwork ? IPv4Size : IPv6Size;

    /// <summary>Writes an IP socket address; IPv6 link-local needs the interface as scope.</summary>
    public static int WriteIP(Span<byte> buffer, IPAddress address, int scopeInterfaceIndex)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            buffer[..IPv4Size].Clear();
            BinaryPrimitives.WriteUInt16LittleEndian(buffer[FamilyOffset..], LibC.AF_INET);
            address.TryWriteBytes(buffer[IPv4AddressOffset..], out _);
            return IPv4Size;
        }
        buffer[..IPv6Size].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[FamilyOffset..], LibC.AF_INET6);
        address.TryWriteBytes(buffer[IPv6AddressOffset..], out _);
        bool needsScope = address.IsIPv6LinkLocal || address.IsIPv6Multicast;
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[IPv6ScopeOffset..], needsScope ? (uint)scopeInterfaceIndex : 0);
        return IPv6Size;
    }

    /// <summary>Reads an IPv6 socket address; a link-local address keeps its scope (the interface index).</summary>
    public static bool TryReadIPv6(ReadOnlySpan<byte> buffer, out IPAddress address)
    {
        address = IPAddress.IPv6None;
        if (buffer.Length < IPv6Size || BinaryPrimitives.ReadUInt16LittleEndian(buffer[FamilyOffset..]) != LibC.AF_INET6)
            return false;
        address = new IPAddress(buffer.Slice(IPv6AddressOffset, 16));
        if (address.IsIPv6LinkLocal)
            address.ScopeId = BinaryPrimitives.ReadUInt32LittleEndian(buffer[IPv6ScopeOffset..]);
        return true;
    }

    public static byte[] Netlink(uint groups)
    {
        var buffer = new byte[NetlinkSize];
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(FamilyOffset), LibC.AF_NETLINK);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(NetlinkPortIdOffset), 0); // 0: the kernel assigns the port id
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(NetlinkGroupsOffset), groups);
        return buffer;
    }
}
