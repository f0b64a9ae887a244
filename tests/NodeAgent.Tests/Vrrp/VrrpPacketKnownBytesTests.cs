using System.Net;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Tests.Vrrp.VrrpTestPackets;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>Messages laid out by hand from the RFC diagrams; checksums from the test's own RFC 1071 code.</summary>
public class VrrpPacketKnownBytesTests
{
    [Fact]
    public void KeepalivedStyleV2AdvertWithPassword()
    {
        // vrrp_instance { virtual_router_id 51; priority 100; advert_int 1;
        //   authentication { auth_type PASS; auth_pass 1111 }; virtual_ipaddress { 198.18.0.8 } }
        byte[] expected =
        [
            0x21, 51, 100, 1,          // version 2 | type 1, VRID, priority, count
            0x01, 1, 0x00, 0x00,       // auth type PASS, adver int 1 s, checksum (below)
            198, 18, 0, 8,             // IP address (1)
            (byte)'1', (byte)'1', (byte)'1', (byte)'1', 0, 0, 0, 0, // authentication data, zero padded
        ];
        ushort checksum = Rfc1071(expected);
        expected[6] = (byte)(checksum >> 8);
        expected[7] = (byte)checksum;
        // Worked by hand: words sum to 0x1AEB1, folded 0xAEB2, complemented 0x514D.
        Assert.Equal(0x514D, checksum);

        var advert = new VrrpAdvertisement(VrrpVersion.V2, 51, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.8")],
            VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("1111"));
        AssertBothWays(expected, advert, SourceV4, GroupV4);
    }

    [Fact]
    public void V2AdvertWithoutAuthenticationAndTwoAddresses()
    {
        byte[] expected =
        [
            0x21, 1, 255, 2,
            0x00, 3, 0x00, 0x00,
            198, 18, 0, 8,
            198, 18, 0, 9,
            0, 0, 0, 0, 0, 0, 0, 0,
        ];
        ushort checksum = Rfc1071(expected);
        expected[6] = (byte)(checksum >> 8);
        expected[7] = (byte)checksum;

        var advert = new VrrpAdvertisement(VrrpVersion.V2, 1, 255, TimeSpan.FromSeconds(3),
            [IPAddress.Parse("198.18.0.8"), IPAddress.Parse("198.18.0.9")]);
        AssertBothWays(expected, advert, SourceV4, GroupV4);
    }

    [Fact]
    public void V3Ipv4Advert()
    {
        byte[] expected =
        [
            0x31, 51, 100, 1,          // version 3 | type 1, VRID, priority, count
            0x00, 100, 0x00, 0x00,     // rsvd | max adver int 100 cs, checksum (below)
            198, 18, 0, 8,
        ];
        ushort checksum = Rfc1071(PseudoHeader(SourceV4, GroupV4, expected.Length), expected);
        expected[6] = (byte)(checksum >> 8);
        expected[7] = (byte)checksum;
        // Worked by hand: pseudo-header + message words sum to 0x30253, folded 0x0256, complemented 0xFDA9.
        Assert.Equal(0xFDA9, checksum);

        var advert = new VrrpAdvertisement(VrrpVersion.V3, 51, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.8")]);
        AssertBothWays(expected, advert, SourceV4, GroupV4);
    }

    [Fact]
    public void V3Ipv6AdvertWithMaximumInterval()
    {
        IPAddress first = IPAddress.Parse("fe80::7");
        IPAddress second = IPAddress.Parse("fd00::7");
        byte[] expected =
        [
            0x31, 7, 200, 2,
            0x0F, 0xFF, 0x00, 0x00,    // max adver int 4095 cs
            .. first.GetAddressBytes(),
            .. second.GetAddressBytes(),
        ];
        ushort checksum = Rfc1071(PseudoHeader(SourceV6, GroupV6, expected.Length), expected);
        expected[6] = (byte)(checksum >> 8);
        expected[7] = (byte)checksum;

        var advert = new VrrpAdvertisement(VrrpVersion.V3, 7, 200, TimeSpan.FromMilliseconds(40950), [first, second]);
        AssertBothWays(expected, advert, SourceV6, GroupV6);
    }

    [Fact]
    public void V3ReservedBitsAreIgnoredOnReception()
    {
        byte[] message = [0x31, 51, 100, 1, 0xF0, 100, 0, 0, 198, 18, 0, 8];
        message = WithFixedChecksum(message, SourceV4, GroupV4);

        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(message, SourceV4, GroupV4, out VrrpAdvertisement? advert));
        Assert.Equal(TimeSpan.FromSeconds(1), advert!.AdvertInterval);
    }

    private static void AssertBothWays(byte[] expected, VrrpAdvertisement advert, IPAddress source, IPAddress destination)
    {
        byte[] written = Enumerable.Repeat((byte)0xEE, expected.Length + 5).ToArray();
        int length = VrrpPacket.Write(written, advert, source, destination);
        Assert.Equal(expected, written[..length]);

        Assert.Equal(VrrpDropReason.Ok, VrrpPacket.TryRead(expected, source, destination, out VrrpAdvertisement? decoded));
        AssertSameAdvert(advert, decoded);
    }
}
