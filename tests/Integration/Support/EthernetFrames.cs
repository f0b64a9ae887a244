using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace NginxHa.Integration.Tests.Support;

/// <summary>Builds Ethernet II frames carrying an IPv4 or IPv6 packet around a given payload (for pcap files).</summary>
public static class EthernetFrames
{
    private const ushort EtherTypeIPv4 = 0x0800;
    private const ushort EtherTypeIPv6 = 0x86DD;
    private const int EthernetHeaderLength = 14;
    private const int IPv4HeaderLength = 20;
    private const int IPv6HeaderLength = 40;

    /// <summary>IPv4 multicast MAC: 01:00:5e + low 23 bits of the group (RFC 1112 section 6.4).</summary>
    public static byte[] IPv4MulticastMac(IPAddress group)
    {
        byte[] address = group.GetAddressBytes();
        return [0x01, 0x00, 0x5E, (byte)(address[1] & 0x7F), address[2], address[3]];
    }

    /// <summary>IPv6 multicast MAC: 33:33 + low 32 bits of the group (RFC 2464 section 7).</summary>
    public static byte[] IPv6MulticastMac(IPAddress group)
    {
        byte[] address = group.GetAddressBytes();
        return [0x33, 0x33, address[12], address[13], address[14], address[15]];
    }

    public static byte[] IPv4(byte[] sourceMac, byte[] destinationMac, IPAddress source, IPAddress destination,
        byte protocol, byte ttl, byte typeOfService, ushort identification, ReadOnlySpan<byte> payload)
    {
        RequireFamily(source, AddressFamily.InterNetwork);
        RequireFamily(destination, AddressFamily.InterNetwork);
        var frame = new byte[EthernetHeaderLength + IPv4HeaderLength + payload.Length];
        WriteEthernet(frame, sourceMac, destinationMac, EtherTypeIPv4);

        Span<byte> ip = frame.AsSpan(EthernetHeaderLength, IPv4HeaderLength);
        ip[0] = 0x45; // version 4, IHL 5 words
        ip[1] = typeOfService;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(IPv4HeaderLength + payload.Length));
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], identification);
        ip[8] = ttl;
        ip[9] = protocol;
        source.TryWriteBytes(ip[12..], out _);
        destination.TryWriteBytes(ip[16..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], HeaderChecksum(ip));

        payload.CopyTo(frame.AsSpan(EthernetHeaderLength + IPv4HeaderLength));
        return frame;
    }

    public static byte[] IPv6(byte[] sourceMac, byte[] destinationMac, IPAddress source, IPAddress destination,
        byte nextHeader, byte hopLimit, ReadOnlySpan<byte> payload)
    {
        RequireFamily(source, AddressFamily.InterNetworkV6);
        RequireFamily(destination, AddressFamily.InterNetworkV6);
        var frame = new byte[EthernetHeaderLength + IPv6HeaderLength + payload.Length];
        WriteEthernet(frame, sourceMac, destinationMac, EtherTypeIPv6);

        Span<byte> ip = frame.AsSpan(EthernetHeaderLength, IPv6HeaderLength);
        ip[0] = 0x60; // version 6, traffic class and flow label 0
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)payload.Length);
        ip[6] = nextHeader;
        ip[7] = hopLimit;
        source.TryWriteBytes(ip[8..], out _);
        destination.TryWriteBytes(ip[24..], out _);

        payload.CopyTo(frame.AsSpan(EthernetHeaderLength + IPv6HeaderLength));
        return frame;
    }

    private static void WriteEthernet(Span<byte> frame, byte[] sourceMac, byte[] destinationMac, ushort etherType)
    {
        if (sourceMac.Length != 6 || destinationMac.Length != 6)
        {
            throw new ArgumentException("MAC addresses are 6 bytes.");
        }
        destinationMac.CopyTo(frame);
        sourceMac.CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], etherType);
    }

    // RFC 791 header checksum (RFC 1071 sum over the header with the checksum field zero).
    private static ushort HeaderChecksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }

    private static void RequireFamily(IPAddress address, AddressFamily family)
    {
        if (address.AddressFamily != family)
        {
            throw new ArgumentException($"{address} is not {family}.", nameof(address));
        }
    }
}
