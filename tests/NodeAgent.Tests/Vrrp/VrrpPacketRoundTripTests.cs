using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Tests.Vrrp.VrrpTestPackets;

namespace NginxHa.NodeAgent.Tests.Vrrp;

public class VrrpPacketRoundTripTests
{
    private static void AssertRoundTrips(params VrrpAdvertisement[] adverts)
    {
        // Write all into one buffer back to back, then read each back from its slice.
        var buffer = new byte[adverts.Sum(VrrpPacket.GetEncodedLength)];
        var slices = new List<(int Offset, int Length)>();
        int offset = 0;
        foreach (VrrpAdvertisement advert in adverts)
        {
            (IPAddress source, IPAddress destination) = Endpoints(advert);
            int written = VrrpPacket.Write(buffer.AsSpan(offset), advert, source, destination);
            slices.Add((offset, written));
            offset += written;
        }
        Assert.Equal(buffer.Length, offset);

        for (int i = 0; i < adverts.Length; i++)
        {
            (IPAddress source, IPAddress destination) = Endpoints(adverts[i]);
            VrrpDropReason result = VrrpPacket.TryRead(buffer.AsSpan(slices[i].Offset, slices[i].Length), source, destination, out VrrpAdvertisement? decoded);
            Assert.Equal(VrrpDropReason.Ok, result);
            AssertSameAdvert(adverts[i], decoded);
        }
    }

    [Fact]
    public void V2WithoutAuthentication() =>
        AssertRoundTrips(V2(), V2(vrid: 1, priority: 0), V2(vrid: 255, priority: 255, seconds: 255));

    [Fact]
    public void V2WithSimpleTextPassword() =>
        AssertRoundTrips(V2(password: "1111"), V2(password: "x"), V2(password: "12345678"), V2(password: "longer-than-8"));

    [Fact]
    public void V3IPv4() =>
        AssertRoundTrips(V3(AddressFamily.InterNetwork), V3(AddressFamily.InterNetwork, centiseconds: 1), V3(AddressFamily.InterNetwork, centiseconds: 4095));

    [Fact]
    public void V3IPv6() =>
        AssertRoundTrips(V3(AddressFamily.InterNetworkV6), V3(AddressFamily.InterNetworkV6, centiseconds: 1), V3(AddressFamily.InterNetworkV6, centiseconds: 4095));

    [Fact]
    public void AddressCounts() =>
        AssertRoundTrips(
            V2(addressCount: 2), V2(addressCount: 20, password: "pw"), V2(addressCount: 255),
            V3(AddressFamily.InterNetwork, addressCount: 3), V3(AddressFamily.InterNetwork, addressCount: 255),
            V3(AddressFamily.InterNetworkV6, addressCount: 2), V3(AddressFamily.InterNetworkV6, addressCount: 255));

    [Fact]
    public void PriorityAndVridBoundaries() =>
        AssertRoundTrips(
            V2(vrid: 1, priority: 0), V2(vrid: 255, priority: 255),
            V3(AddressFamily.InterNetwork, vrid: 1, priority: 0), V3(AddressFamily.InterNetwork, vrid: 255, priority: 255),
            V3(AddressFamily.InterNetworkV6, vrid: 1, priority: 0), V3(AddressFamily.InterNetworkV6, vrid: 255, priority: 255));

    [Fact]
    public void EncodedLengths()
    {
        Assert.Equal(8 + 4 + 8, VrrpPacket.GetEncodedLength(V2()));
        Assert.Equal(8 + 3 * 4 + 8, VrrpPacket.GetEncodedLength(V2(addressCount: 3)));
        Assert.Equal(8 + 2 * 4, VrrpPacket.GetEncodedLength(V3(AddressFamily.InterNetwork, addressCount: 2)));
        Assert.Equal(8 + 2 * 16, VrrpPacket.GetEncodedLength(V3(AddressFamily.InterNetworkV6, addressCount: 2)));
    }

    [Fact]
    public void V3ChecksumDependsOnTheSourceAddress()
    {
        byte[] message = Encode(V3(AddressFamily.InterNetwork));
        Assert.Equal(VrrpDropReason.BadChecksum, VrrpPacket.TryRead(message, V4(2), GroupV4, out _));
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(message, SourceV4, GroupV4, out _));
    }

    [Fact]
    public void V2ChecksumIgnoresTheIpAddresses()
    {
        byte[] message = Encode(V2(password: "1111"));
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(message, V4(77), V4(78), out _));
    }

    [Fact]
    public void Ipv4MappedEndpointsAreTreatedAsIpv4()
    {
        VrrpAdvertisement advert = V3(AddressFamily.InterNetwork);
        var buffer = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(buffer, advert, SourceV4.MapToIPv6(), GroupV4.MapToIPv6());
        Assert.Equal(Encode(advert), buffer);
        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(buffer, SourceV4.MapToIPv6(), GroupV4.MapToIPv6(), out _));
    }
}
