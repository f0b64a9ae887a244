using System.Buffers.Binary;
using System.Net.NetworkInformation;
using System.Text;

namespace NginxHa.NodeAgent.Network.Netlink;

/// <summary>
/// RTM_NEWLINK / RTM_GETLINK body: struct ifinfomsg (RFC 3549 section 2.3.3.1) and its attributes:
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Family    |   Reserved  |          Device Type              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Interface Index                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Device Flags                             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Change Mask                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Route Attributes...
/// </code>
/// </summary>
internal readonly record struct LinkMessage(int InterfaceIndex, ushort DeviceType, string Name, PhysicalAddress HardwareAddress, uint Flags = 0)
{
    public const int Size = 16;
    private const int DeviceTypeOffset = 2;
    private const int InterfaceIndexOffset = 4;
    private const int FlagsOffset = 8;

    // <linux/if.h> net_device_flags: administratively up, and the carrier (RFC 2863 lower layer) is up.
    public const uint IFF_UP = 0x1;
    public const uint IFF_LOWER_UP = 0x10000;

    /// <summary>Up and with carrier: the interface can carry adverts.</summary>
    public bool IsOperational => (Flags & IFF_UP) != 0 && (Flags & IFF_LOWER_UP) != 0;

    // Attribute types (linux/if_link.h).
    public const ushort IFLA_ADDRESS = 1;
    public const ushort IFLA_IFNAME = 3;

    /// <summary>IFNAMSIZ - 1: the kernel's limit for interface names.</summary>
    public const int MaxNameLength = 15;
    public const int MaxRequestSize = NetlinkHeader.Size + Size + 4 + 16;

    /// <summary>Writes an RTM_GETLINK request for one interface, looked up by name.</summary>
    public static int WriteGetByName(Span<byte> buffer, string name, uint sequence)
    {
        var writer = new NetlinkMessageWriter(buffer, NetlinkHeader.RTM_GETLINK, NetlinkHeader.NLM_F_REQUEST, sequence);
        writer.AppendBody(Size);
        Span<byte> nameBytes = stackalloc byte[MaxNameLength + 1];
        int length = Encoding.ASCII.GetBytes(name, nameBytes);
        nameBytes[length] = 0; // the kernel wants the terminating NUL
        writer.AppendAttribute(IFLA_IFNAME, nameBytes[..(length + 1)]);
        return writer.Finish();
    }

    public static bool TryRead(ReadOnlySpan<byte> body, out LinkMessage message, out string? error)
    {
        message = default;
        if (body.Length < Size)
        {
            error = $"ifinfomsg needs {Size} bytes, got {body.Length}";
            return false;
        }
        string? name = null;
        var hardwareAddress = PhysicalAddress.None;
        var attributes = new NetlinkAttributeReader(body[Size..]);
        while (attributes.Next(out ushort type, out ReadOnlySpan<byte> value))
        {
            if (type == IFLA_IFNAME)
                name = Encoding.ASCII.GetString(value.IndexOf((byte)0) is var end and >= 0 ? value[..end] : value);
            else if (type == IFLA_ADDRESS)
                hardwareAddress = new PhysicalAddress(value.ToArray());
        }
        if (attributes.Error is not null)
        {
            error = $"ifinfomsg attributes: {attributes.Error}";
            return false;
        }
        if (name is null)
        {
            error = "ifinfomsg has no IFLA_IFNAME";
            return false;
        }
        message = new LinkMessage(
            BinaryPrimitives.ReadInt32LittleEndian(body[InterfaceIndexOffset..]),
            BinaryPrimitives.ReadUInt16LittleEndian(body[DeviceTypeOffset..]),
            name,
            hardwareAddress,
            BinaryPrimitives.ReadUInt32LittleEndian(body[FlagsOffset..]));
        error = null;
        return true;
    }
}
