using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Network.Native;

namespace NginxHa.NodeAgent.Network.Netlink;

/// <summary>
/// RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR body: struct ifaddrmsg (RFC 3549 section 2.3.3.2) and its attributes:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Family    |     Length    |     Flags     |    Scope        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Interface Index                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Route Attributes...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// ("Length" is the prefix length.) IFA_FLAGS (u32) supersedes the 8-bit flags field; IFA_PROTO
/// (Linux 5.18) records who added the address.
/// </summary>
internal readonly record struct AddressMessage(
    AddressFamily Family, byte PrefixLength, AddressFlags Flags, byte Scope, int InterfaceIndex, IPAddress Address, byte Protocol)
{
    public const int Size = 8;
    private const int FamilyOffset = 0;
    private const int PrefixLengthOffset = 1;
    private const int FlagsOffset = 2;
    private const int ScopeOffset = 3;
    private const int InterfaceIndexOffset = 4;

    // Attribute types (linux/if_addr.h).
    public const ushort IFA_ADDRESS = 1;
    public const ushort IFA_LOCAL = 2;
    public const ushort IFA_FLAGS = 8;
    public const ushort IFA_PROTO = 11;

    public const byte RT_SCOPE_UNIVERSE = 0;
    public const byte RT_SCOPE_LINK = 253;

    /// <summary>Largest request <see cref="WriteRequest"/> produces.</summary>
    public const int MaxRequestSize = NetlinkHeader.Size + Size + 2 * (4 + 16) + (4 + 4) + (4 + 4);

    /// <summary>Writes a request for this address: IFA_LOCAL and IFA_ADDRESS (as iproute2 does), IFA_FLAGS, IFA_PROTO.</summary>
    public int WriteRequest(Span<byte> buffer, ushort type, ushort flags, uint sequence)
    {
        var writer = new NetlinkMessageWriter(buffer, type, flags, sequence);
        Span<byte> body = writer.AppendBody(Size);
        body[FamilyOffset] = (byte)(Family == AddressFamily.InterNetwork ? LibC.AF_INET : LibC.AF_INET6);
        body[PrefixLengthOffset] = PrefixLength;
        body[FlagsOffset] = (byte)Flags;
        body[ScopeOffset] = Scope;
        BinaryPrimitives.WriteInt32LittleEndian(body[InterfaceIndexOffset..], InterfaceIndex);
        Span<byte> address = stackalloc byte[16];
        Address.TryWriteBytes(address, out int addressLength);
        writer.AppendAttribute(IFA_LOCAL, address[..addressLength]);
        writer.AppendAttribute(IFA_ADDRESS, address[..addressLength]);
        writer.AppendAttribute(IFA_FLAGS, (uint)Flags);
        if (Protocol != 0)
            writer.AppendAttribute(IFA_PROTO, [Protocol]);
        return writer.Finish();
    }

    /// <summary>Writes an RTM_GETADDR dump request for all families.</summary>
    public static int WriteDumpRequest(Span<byte> buffer, uint sequence)
    {
        var writer = new NetlinkMessageWriter(buffer, NetlinkHeader.RTM_GETADDR, NetlinkHeader.NLM_F_REQUEST | NetlinkHeader.NLM_F_DUMP, sequence);
        writer.AppendBody(Size); // all zero: AF_UNSPEC, every interface
        return writer.Finish();
    }

    /// <summary>Reads the body (after the netlink header) of an address message.</summary>
    public static bool TryRead(ReadOnlySpan<byte> body, out AddressMessage message, out string? error)
    {
        message = default;
        if (body.Length < Size)
        {
            error = $"ifaddrmsg needs {Size} bytes, got {body.Length}";
            return false;
        }
        AddressFamily family = body[FamilyOffset] switch
        {
            LibC.AF_INET => AddressFamily.InterNetwork,
            LibC.AF_INET6 => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown)
        {
            error = $"ifaddrmsg family {body[FamilyOffset]} is neither AF_INET nor AF_INET6";
            return false;
        }
        int addressLength = family == AddressFamily.InterNetwork ? 4 : 16;
        var flags = (AddressFlags)body[FlagsOffset];
        byte protocol = 0;
        ReadOnlySpan<byte> local = default, peer = default;
        var attributes = new NetlinkAttributeReader(body[NetlinkHeader.Align(Size)..]);
        while (attributes.Next(out ushort type, out ReadOnlySpan<byte> value))
        {
            switch (type)
            {
                case IFA_LOCAL: local = value; break;
                case IFA_ADDRESS: peer = value; break;
                case IFA_FLAGS when value.Length >= 4: flags = (AddressFlags)BinaryPrimitives.ReadUInt32LittleEndian(value); break;
                case IFA_PROTO when value.Length >= 1: protocol = value[0]; break;
            }
        }
        if (attributes.Error is not null)
        {
            error = $"ifaddrmsg attributes: {attributes.Error}";
            return false;
        }
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
        ReadOnlySpan<byte> own = local.IsEmpty ? peer : local;
        if (own.Length != addressLength)
        {
            error = $"ifaddrmsg address is {own.Length} bytes, expected {addressLength}";
            return false;
        }
        message = new AddressMessage(family, body[PrefixLengthOffset], flags, body[ScopeOffset],
            BinaryPrimitives.ReadInt32LittleEndian(body[InterfaceIndexOffset..]), new IPAddress(own), protocol);
        error = null;
        return true;
    }
}
