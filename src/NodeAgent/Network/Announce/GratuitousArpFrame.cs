using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Network.Announce;

/// <summary>
/// Gratuitous ARP (RFC 5227 section 3, RFC 826) in an Ethernet II frame, as keepalived sends it:
/// an ARP request whose sender and target protocol addresses are both the VIP and whose target
/// hardware address is ff:ff:ff:ff:ff:ff, broadcast.
/// <code>
/// Ethernet: destination(6) source(6) EtherType 0x0806(2)
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Hardware Type (1)        |    Protocol Type (0x0800)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  HW len (6)   | Proto len (4) |      Operation (1 request)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Sender hardware address (6) | Sender protocol address (4)     |
/// | Target hardware address (6) | Target protocol address (4)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
internal static class GratuitousArpFrame
{
    public const ushort EtherTypeArp = 0x0806;
    private const ushort EtherTypeIPv4 = 0x0800;
    private const ushort HardwareTypeEthernet = 1;
    private const ushort OperationRequest = 1;
    private const int MacLength = 6;
    private const int IPv4Length = 4;

    private const int EthernetDestinationOffset = 0;
    private const int EthernetSourceOffset = 6;
    private const int EthernetTypeOffset = 12;
    public const int EthernetHeaderSize = 14;

    private const int HardwareTypeOffset = EthernetHeaderSize + 0;
    private const int ProtocolTypeOffset = EthernetHeaderSize + 2;
    private const int HardwareLengthOffset = EthernetHeaderSize + 4;
    private const int ProtocolLengthOffset = EthernetHeaderSize + 5;
    private const int OperationOffset = EthernetHeaderSize + 6;
    private const int SenderHardwareOffset = EthernetHeaderSize + 8;
    private const int SenderProtocolOffset = EthernetHeaderSize + 14;
    private const int TargetHardwareOffset = EthernetHeaderSize + 18;
    private const int TargetProtocolOffset = EthernetHeaderSize + 24;
    public const int Size = EthernetHeaderSize + 28;

    public static int Write(Span<byte> frame, PhysicalAddress senderMac, IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
            throw new ArgumentException($"gratuitous ARP needs an IPv4 address, got {address}", nameof(address));
        ReadOnlySpan<byte> mac = senderMac.GetAddressBytes();
        if (mac.Length != MacLength)
            throw new ArgumentException($"MAC address {senderMac} is not a 6-byte Ethernet address", nameof(senderMac));

        frame[EthernetDestinationOffset..(EthernetDestinationOffset + MacLength)].Fill(0xff);
        mac.CopyTo(frame[EthernetSourceOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[EthernetTypeOffset..], EtherTypeArp);

        BinaryPrimitives.WriteUInt16BigEndian(frame[HardwareTypeOffset..], HardwareTypeEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(frame[ProtocolTypeOffset..], EtherTypeIPv4);
        frame[HardwareLengthOffset] = MacLength;
        frame[ProtocolLengthOffset] = IPv4Length;
        BinaryPrimitives.WriteUInt16BigEndian(frame[OperationOffset..], OperationRequest);
        mac.CopyTo(frame[SenderHardwareOffset..]);
        address.TryWriteBytes(frame[SenderProtocolOffset..], out _);
        frame[TargetHardwareOffset..(TargetHardwareOffset + MacLength)].Fill(0xff);
        address.TryWriteBytes(frame[TargetProtocolOffset..], out _);
        return Size;
    }
}
