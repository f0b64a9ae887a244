using System.Buffers.Binary;
using System.Net;
using NginxHa.NodeAgent.Network.Ip;

namespace NginxHa.NodeAgent.Survey;

/// <summary>
/// The link and IP layers of a captured frame, as far as the survey needs them: which IP packet with protocol 112 it
/// carries. Pure. (PacketDotNet, which the tests use to build and check frames, produces trim warnings under NativeAOT,
/// so the shipped agent reads these few headers itself.)
/// </summary>
public static class CapturedFrame
{
    /// <summary>libpcap link-layer header types (https://www.tcpdump.org/linktypes.html) the survey reads.</summary>
    public const int LinkTypeEthernet = 1, LinkTypeRaw = 101, LinkTypeLinuxSll = 113, LinkTypeLinuxSll2 = 276;

    const ushort EtherTypeIPv4 = 0x0800, EtherTypeIPv6 = 0x86DD, EtherTypeVlan = 0x8100, EtherTypeQinQ = 0x88A8;
    const int EthernetHeaderLength = 14, VlanTagLength = 4, SllHeaderLength = 16, Sll2HeaderLength = 20;
    const int IPv6HeaderLength = 40;

    /// <summary>The IP packet with protocol <paramref name="protocol"/> in <paramref name="frame"/>, if it carries one
    /// (IPv6: as the first next header, which is how VRRP is sent).</summary>
    public static bool TryReadIp(int linkType, ReadOnlySpan<byte> frame, byte protocol, out IpFields ip)
    {
        ip = default;
        ushort etherType;
        ReadOnlySpan<byte> packet;
        switch (linkType)
        {
            case LinkTypeEthernet:
                if (frame.Length < EthernetHeaderLength) return false;
                int offset = 12;
                etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
                while (etherType is EtherTypeVlan or EtherTypeQinQ && frame.Length >= offset + VlanTagLength + 2)
                {
                    offset += VlanTagLength;
                    etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
                }
                packet = frame[(offset + 2)..];
                break;
            case LinkTypeLinuxSll:
                if (frame.Length < SllHeaderLength) return false;
                etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[14..]);
                packet = frame[SllHeaderLength..];
                break;
            case LinkTypeLinuxSll2:
                if (frame.Length < Sll2HeaderLength) return false;
                etherType = BinaryPrimitives.ReadUInt16BigEndian(frame);
                packet = frame[Sll2HeaderLength..];
                break;
            case LinkTypeRaw:
                if (frame.IsEmpty) return false;
                etherType = (frame[0] >> 4) == 6 ? EtherTypeIPv6 : EtherTypeIPv4;
                packet = frame;
                break;
            default:
                return false;
        }
        return etherType switch
        {
            EtherTypeIPv4 => TryReadIPv4(packet, protocol, out ip),
            EtherTypeIPv6 => TryReadIPv6(packet, protocol, out ip),
            _ => false,
        };
    }

    static bool TryReadIPv4(ReadOnlySpan<byte> packet, byte protocol, out IpFields ip)
    {
        ip = default;
        if (!IPv4Header.TryRead(packet, out var header, out _) || header.Protocol != protocol) return false;
        ip = new IpFields(header.Source, header.Destination, header.TimeToLive, packet[header.HeaderLength..header.TotalLength].ToArray());
        return true;
    }

    static bool TryReadIPv6(ReadOnlySpan<byte> packet, byte protocol, out IpFields ip)
    {
        ip = default;
        if (packet.Length < IPv6HeaderLength || packet[0] >> 4 != 6 || packet[6] != protocol) return false;
        int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(packet[4..]);
        if (IPv6HeaderLength + payloadLength > packet.Length) return false;
        ip = new IpFields(new IPAddress(packet.Slice(8, 16)), new IPAddress(packet.Slice(24, 16)), packet[7],
            packet.Slice(IPv6HeaderLength, payloadLength).ToArray());
        return true;
    }
}

/// <summary>What the survey takes from an IP header, and the payload.</summary>
public readonly record struct IpFields(IPAddress Source, IPAddress Destination, int TtlOrHopLimit, byte[] Payload);
