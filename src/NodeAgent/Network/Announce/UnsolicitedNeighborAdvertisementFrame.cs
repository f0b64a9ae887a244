using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace NginxHa.NodeAgent.Network.Announce;

/// <summary>
/// Unsolicited Neighbor Advertisement (RFC 4861 sections 4.4 and 7.2.6) in IPv6 (RFC 8200) in
/// Ethernet II: from the VIP to all-nodes ff02::1 (MAC 33:33:00:00:00:01, RFC 2464), hop limit 255,
/// Override set, Solicited clear, with a Target Link-Layer Address option (RFC 4861 section 4.6.1).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|S|O|                     Reserved                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Target Address (16)                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Type (2)     |  Length (1)   |  Link-Layer Address (6) ...   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// The checksum covers the RFC 8200 section 8.1 pseudo-header (source, destination, upper-layer
/// length, next header 58) and the ICMPv6 message.
/// </summary>
internal static class UnsolicitedNeighborAdvertisementFrame
{
    public const ushort EtherTypeIPv6 = 0x86dd;
    private const int MacLength = 6;
    private static readonly byte[] AllNodesMac = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];
    public static readonly IPAddress AllNodes = IPAddress.Parse("ff02::1");

    private const int EthernetDestinationOffset = 0;
    private const int EthernetSourceOffset = 6;
    private const int EthernetTypeOffset = 12;
    private const int EthernetHeaderSize = 14;

    private const int IPv6Offset = EthernetHeaderSize;
    private const int IPv6VersionOffset = IPv6Offset + 0;
    private const int IPv6PayloadLengthOffset = IPv6Offset + 4;
    private const int IPv6NextHeaderOffset = IPv6Offset + 6;
    private const int IPv6HopLimitOffset = IPv6Offset + 7;
    private const int IPv6SourceOffset = IPv6Offset + 8;
    private const int IPv6DestinationOffset = IPv6Offset + 24;
    private const int IPv6HeaderSize = 40;
    private const uint IPv6VersionWord = 6u << 28; // version 6, traffic class 0, flow label 0
    public const byte NextHeaderIcmpv6 = 58;
    public const byte HopLimit = 255;

    private const int IcmpOffset = IPv6Offset + IPv6HeaderSize;
    private const int IcmpTypeOffset = IcmpOffset + 0;
    private const int IcmpCodeOffset = IcmpOffset + 1;
    private const int IcmpChecksumOffset = IcmpOffset + 2;
    private const int IcmpFlagsOffset = IcmpOffset + 4;
    private const int IcmpTargetOffset = IcmpOffset + 8;
    private const int OptionOffset = IcmpOffset + 24;
    private const int OptionTypeOffset = OptionOffset + 0;
    private const int OptionLengthOffset = OptionOffset + 1;
    private const int OptionAddressOffset = OptionOffset + 2;
    private const int IcmpLength = 24 + 8;
    public const int Size = IcmpOffset + IcmpLength;

    public const byte TypeNeighborAdvertisement = 136;
    public const byte FlagRouter = 0x80;
    public const byte FlagSolicited = 0x40;
    public const byte FlagOverride = 0x20;
    public const byte OptionTargetLinkLayerAddress = 2;

    public static int Write(Span<byte> frame, PhysicalAddress senderMac, IPAddress address, bool isRouter)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            throw new ArgumentException($"neighbor advertisement needs an IPv6 address, got {address}", nameof(address));
        ReadOnlySpan<byte> mac = senderMac.GetAddressBytes();
        if (mac.Length != MacLength)
            throw new ArgumentException($"MAC address {senderMac} is not a 6-byte Ethernet address", nameof(senderMac));
        frame[..Size].Clear();

        AllNodesMac.CopyTo(frame[EthernetDestinationOffset..]);
        mac.CopyTo(frame[EthernetSourceOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[EthernetTypeOffset..], EtherTypeIPv6);

        BinaryPrimitives.WriteUInt32BigEndian(frame[IPv6VersionOffset..], IPv6VersionWord);
        BinaryPrimitives.WriteUInt16BigEndian(frame[IPv6PayloadLengthOffset..], IcmpLength);
        frame[IPv6NextHeaderOffset] = NextHeaderIcmpv6;
        frame[IPv6HopLimitOffset] = HopLimit;
        address.TryWriteBytes(frame[IPv6SourceOffset..], out _);
        AllNodes.TryWriteBytes(frame[IPv6DestinationOffset..], out _);

        frame[IcmpTypeOffset] = TypeNeighborAdvertisement;
        frame[IcmpCodeOffset] = 0;
        frame[IcmpFlagsOffset] = (byte)(FlagOverride | (isRouter ? FlagRouter : 0));
        address.TryWriteBytes(frame[IcmpTargetOffset..], out _);
        frame[OptionTypeOffset] = OptionTargetLinkLayerAddress;
        frame[OptionLengthOffset] = 1; // in units of 8 bytes
        mac.CopyTo(frame[OptionAddressOffset..]);

        BinaryPrimitives.WriteUInt16BigEndian(frame[IcmpChecksumOffset..], Checksum(frame));
        return Size;
    }

    private static ushort Checksum(ReadOnlySpan<byte> frame)
    {
        Span<byte> pseudoTail = stackalloc byte[8]; // upper-layer length (4), zero (3), next header (1)
        BinaryPrimitives.WriteUInt32BigEndian(pseudoTail, IcmpLength);
        pseudoTail[7] = NextHeaderIcmpv6;
        uint sum = InternetChecksum.Accumulate(0, frame.Slice(IPv6SourceOffset, 32)); // source and destination
        sum = InternetChecksum.Accumulate(sum, pseudoTail);
        return InternetChecksum.Finish(InternetChecksum.Accumulate(sum, frame.Slice(IcmpOffset, IcmpLength)));
    }
}
