using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Tests.Vrrp.VrrpTestPackets;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>Our own adverts are configuration: invalid ones are refused loudly, naming the field.</summary>
public class VrrpPacketWriteValidationTests
{
    public static TheoryData<string, VrrpAdvertisement, string> InvalidAdverts => new()
    {
        { "no addresses", V2() with { Addresses = [] }, "Addresses is empty" },
        { "256 addresses", V3(AddressFamily.InterNetwork, addressCount: 256), "at most 255" },
        { "v3 interval 0", V3(AddressFamily.InterNetwork, centiseconds: 0), "AdvertInterval" },
        { "v3 interval 4096 cs", V3(AddressFamily.InterNetwork, centiseconds: 4096), "AdvertInterval" },
        { "v3 interval 15 ms", V3(AddressFamily.InterNetwork) with { AdvertInterval = TimeSpan.FromMilliseconds(15) }, "AdvertInterval" },
        { "v2 interval 0", V2(seconds: 0), "AdvertInterval" },
        { "v2 interval 256 s", V2(seconds: 256), "AdvertInterval" },
        { "v2 interval 1.5 s", V2() with { AdvertInterval = TimeSpan.FromMilliseconds(1500) }, "AdvertInterval" },
        { "v2 password of 9 bytes", V2() with { AuthType = VrrpAuthType.SimpleText, AuthData = new byte[9] }, "AuthData" },
        { "v2 empty password", V2() with { AuthType = VrrpAuthType.SimpleText, AuthData = default }, "AuthData" },
        { "v2 auth data without auth type", V2() with { AuthData = new byte[8] }, "AuthData must be empty" },
        { "v2 IPsec AH", V2(password: "1111") with { AuthType = VrrpAuthType.IpAuthenticationHeader }, "IpAuthenticationHeader" },
        { "v2 undefined auth type", V2(password: "1111") with { AuthType = (VrrpAuthType)7 }, "AuthType 7" },
        { "v3 with a password", V3(AddressFamily.InterNetwork) with { AuthType = VrrpAuthType.SimpleText, AuthData = new byte[8] }, "no authentication" },
        { "version 4", V3(AddressFamily.InterNetwork) with { Version = (VrrpVersion)4 }, "Version 4" },
        { "IPv6 address in an IPv4 advert", V3(AddressFamily.InterNetwork) with { Addresses = [V4(8), V6(9)] }, "Addresses[1]" },
    };

    [Theory]
    [MemberData(nameof(InvalidAdverts))]
    public void RefusesInvalidAdvert(string name, VrrpAdvertisement advert, string messagePart)
    {
        (IPAddress source, IPAddress destination) = Endpoints(advert);
        var buffer = new byte[8192];
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => VrrpPacket.Write(buffer, advert, source, destination));
        Assert.True(error.Message.Contains(messagePart, StringComparison.Ordinal), $"{name}: '{error.Message}' lacks '{messagePart}'");
    }

    [Fact]
    public void RefusesV2OverIpv6()
    {
        VrrpAdvertisement advert = V2() with { Addresses = [V6(8)] };
        ArgumentException error = Assert.Throws<ArgumentException>(() => VrrpPacket.Write(new byte[64], advert, SourceV6, GroupV6));
        Assert.Contains("IPv4 only", error.Message);
    }

    [Fact]
    public void RefusesMixedSourceAndDestinationFamilies()
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => VrrpPacket.Write(new byte[64], V3(AddressFamily.InterNetwork), SourceV4, GroupV6));
        Assert.Equal("destinationAddress", error.ParamName);
    }

    [Fact]
    public void RefusesTooSmallDestination()
    {
        VrrpAdvertisement advert = V2();
        ArgumentException error = Assert.Throws<ArgumentException>(() => VrrpPacket.Write(new byte[19], advert, SourceV4, GroupV4));
        Assert.Equal("destination", error.ParamName);
        Assert.Contains("needs 20", error.Message);
    }

    [Fact]
    public void ToStringNeverShowsThePassword()
    {
        VrrpAdvertisement advert = V2(password: "s3cr3tpw");
        var rules = new VrrpReceiveRules(VrrpVersion.V2, 51, [V4(8)], TimeSpan.FromSeconds(1), VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("s3cr3tpw"));
        Assert.DoesNotContain("s3cr3tpw", advert.ToString());
        Assert.DoesNotContain("s3cr3tpw", rules.ToString());
        Assert.DoesNotContain("115", advert.ToString()); // 's' as a byte value
    }
}
