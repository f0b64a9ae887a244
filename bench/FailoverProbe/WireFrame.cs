using System.Buffers.Binary;
using System.Net;

namespace NginxHa.Bench.FailoverProbe;

public enum WireFrameKind
{
    VrrpAdvert,
    Arp,
}

/// <summary>The few facts the probe needs from a frame: who sent a VRRP advert (and its priority), or an ARP's sender IP.</summary>
public readonly record struct WireFrame(WireFrameKind Kind, IPAddress Sender, byte Priority);

/// <summary>
/// Reads Ethernet II frames carrying a VRRP advert (IPv4 protocol 112, RFC 3768 / RFC 5798) or an
/// ARP packet (RFC 826). Only the fields the failover probe reports are decoded.
///
///  Ethernet II:   | dst MAC (6) | src MAC (6) | EtherType (2) | payload
///
///  IPv4 (RFC 791):
///     0                   1                   2                   3
///     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///    |Version|  IHL  |Type of Service|          Total Length         |
///    |         Identification        |Flags|      Fragment Offset    |
///    |  Time to Live |    Protocol   |         Header Checksum       |
///    |                       Source Address                          |
///    |                    Destination Address                        |
///
///  VRRP (v2 and v3 share the first three octets):
///    |Version| Type  | Virtual Rtr ID|   Priority    | ...
///
///  ARP for IPv4 over Ethernet (RFC 826):
///    | HTYPE (2) | PTYPE (2) | HLEN (1) | PLEN (1) | OPER (2) |
///    | sender MAC (6) | sender IP (4) | target MAC (6) | target IP (4) |
/// </summary>
public static class WireFrameReader
{
    public const ushort EtherTypeIPv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;
    public const byte IpProtocolVrrp = 112;

    private const int EthernetEtherTypeOffset = 12;
    private const int EthernetHeaderLength = 14;

    private const int IPv4VersionIhlOffset = 0;
    private const int IPv4ProtocolOffset = 9;
    private const int IPv4SourceOffset = 12;
    private const int IPv4MinimumHeaderLength = 20;
    private const int IPv4AddressLength = 4;

    private const int VrrpPriorityOffset = 2;
    private const int VrrpMinimumPrefix = 3;

    private const int ArpSenderProtocolAddressOffset = 14;
    private const int ArpLengthForIPv4OverEthernet = 28;

    public static bool TryRead(ReadOnlySpan<byte> frame, out WireFrame result, out string? reason)
    {
        result = default;
        if (frame.Length < EthernetHeaderLength)
        {
            reason = $"frame of {frame.Length} bytes is shorter than an Ethernet header";
            return false;
        }
        var etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[EthernetEtherTypeOffset..]);
        var payload = frame[EthernetHeaderLength..];
        return etherType switch
        {
            EtherTypeIPv4 => TryReadVrrp(payload, out result, out reason),
            EtherTypeArp => TryReadArp(payload, out result, out reason),
            _ => Fail($"EtherType 0x{etherType:x4} is neither IPv4 nor ARP", out reason),
        };
    }

    private static bool TryReadVrrp(ReadOnlySpan<byte> packet, out WireFrame result, out string? reason)
    {
        result = default;
        if (packet.Length < IPv4MinimumHeaderLength)
            return Fail($"IPv4 packet of {packet.Length} bytes is shorter than its minimum header", out reason);
        var headerLength = (packet[IPv4VersionIhlOffset] & 0x0f) * 4;
        if (headerLength < IPv4MinimumHeaderLength || packet.Length < headerLength + VrrpMinimumPrefix)
            return Fail($"IPv4 header length {headerLength} does not fit a VRRP packet of {packet.Length} bytes", out reason);
        if (packet[IPv4ProtocolOffset] != IpProtocolVrrp)
            return Fail($"IP protocol {packet[IPv4ProtocolOffset]} is not VRRP", out reason);
        var sender = new IPAddress(packet.Slice(IPv4SourceOffset, IPv4AddressLength));
        result = new WireFrame(WireFrameKind.VrrpAdvert, sender, packet[headerLength + VrrpPriorityOffset]);
        reason = null;
        return true;
    }

    private static bool TryReadArp(ReadOnlySpan<byte> packet, out WireFrame result, out string? reason)
    {
        result = default;
        if (packet.Length < ArpLengthForIPv4OverEthernet)
            return Fail($"ARP packet of {packet.Length} bytes is shorter than IPv4-over-Ethernet ARP", out reason);
        var sender = new IPAddress(packet.Slice(ArpSenderProtocolAddressOffset, IPv4AddressLength));
        result = new WireFrame(WireFrameKind.Arp, sender, 0);
        reason = null;
        return true;
    }

    private static bool Fail(string why, out string? reason)
    {
        reason = why;
        return false;
    }
}
