using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>Shared adverts, addresses and an independent RFC 1071 checksum for the VRRP tests.</summary>
internal static class VrrpTestPackets
{
    public static readonly IPAddress SourceV4 = IPAddress.Parse("198.18.0.1");
    public static readonly IPAddress SourceV6 = IPAddress.Parse("fe80::1");
    public static readonly IPAddress GroupV4 = IPAddress.Parse("224.0.0.18");
    public static readonly IPAddress GroupV6 = IPAddress.Parse("ff02::12");

    public static IPAddress V4(int host) => new([198, 18, (byte)(host >> 8), (byte)host]);

    public static IPAddress V6(int host) => IPAddress.Parse($"fd00::{host:x}");

    public static VrrpAdvertisement V2(byte vrid = 51, byte priority = 100, int seconds = 1, int addressCount = 1, string? password = null) =>
        new(VrrpVersion.V2, vrid, priority, TimeSpan.FromSeconds(seconds),
            Enumerable.Range(8, addressCount).Select(V4).ToArray(),
            password is null ? VrrpAuthType.None : VrrpAuthType.SimpleText,
            password is null ? default : VrrpSimplePassword.ToAuthData(password));

    public static VrrpAdvertisement V3(AddressFamily family, byte vrid = 51, byte priority = 100, int centiseconds = 100, int addressCount = 1) =>
        new(VrrpVersion.V3, vrid, priority, TimeSpan.FromMilliseconds(centiseconds * 10),
            Enumerable.Range(8, addressCount).Select(family == AddressFamily.InterNetwork ? V4 : (Func<int, IPAddress>)V6).ToArray());

    public static (IPAddress Source, IPAddress Destination) Endpoints(VrrpAdvertisement advert) =>
        advert.Addresses.Count == 0 || advert.Addresses[0].AddressFamily == AddressFamily.InterNetwork ? (SourceV4, GroupV4) : (SourceV6, GroupV6);

    public static byte[] Encode(VrrpAdvertisement advert)
    {
        (IPAddress source, IPAddress destination) = Endpoints(advert);
        var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
        int written = VrrpPacket.Write(buffer, advert, source, destination);
        Assert.Equal(buffer.Length, written);
        return buffer;
    }

    /// <summary>RFC 1071 section 4.1 reference algorithm, written apart from the production code.</summary>
    public static ushort Rfc1071(params byte[][] parts)
    {
        byte[] all = parts.SelectMany(p => p).ToArray();
        long sum = 0;
        for (int i = 0; i < all.Length; i += 2)
        {
            int high = all[i];
            int low = i + 1 < all.Length ? all[i + 1] : 0;
            sum += (high << 8) | low;
        }
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)(~sum & 0xFFFF);
    }

    /// <summary>The v3 pseudo-header (RFC 768 style for IPv4, RFC 2460 section 8.1 for IPv6).</summary>
    public static byte[] PseudoHeader(IPAddress source, IPAddress destination, int vrrpLength)
    {
        if (source.AddressFamily == AddressFamily.InterNetwork)
        {
            return [.. source.GetAddressBytes(), .. destination.GetAddressBytes(), 0, 112, (byte)(vrrpLength >> 8), (byte)vrrpLength];
        }
        return [.. source.GetAddressBytes(), .. destination.GetAddressBytes(),
            (byte)(vrrpLength >> 24), (byte)(vrrpLength >> 16), (byte)(vrrpLength >> 8), (byte)vrrpLength, 0, 0, 0, 112];
    }

    /// <summary>Sets a correct checksum in a hand-edited message so later checks are reached.</summary>
    public static byte[] WithFixedChecksum(byte[] message, IPAddress source, IPAddress destination)
    {
        byte[] copy = (byte[])message.Clone();
        copy[6] = 0;
        copy[7] = 0;
        ushort checksum = (copy[0] >> 4) == 3
            ? Rfc1071(PseudoHeader(source, destination, copy.Length), copy)
            : Rfc1071(copy);
        BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(6), checksum);
        return copy;
    }

    public static void AssertSameAdvert(VrrpAdvertisement expected, VrrpAdvertisement? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.VirtualRouterId, actual.VirtualRouterId);
        Assert.Equal(expected.Priority, actual.Priority);
        Assert.Equal(expected.AdvertInterval, actual.AdvertInterval);
        Assert.Equal(expected.Addresses, actual.Addresses);
        Assert.Equal(expected.AuthType, actual.AuthType);
        byte[] expectedAuth = expected.AuthType == VrrpAuthType.None ? [] : new byte[VrrpPacket.AuthDataLength];
        expected.AuthData.Span.CopyTo(expectedAuth);
        Assert.Equal(expectedAuth, actual.AuthData.ToArray());
    }
}
