using System.Net;
using System.Net.Sockets;
using NginxHa.NodeAgent.Vrrp;
using static NginxHa.NodeAgent.Tests.Vrrp.VrrpTestPackets;

namespace NginxHa.NodeAgent.Tests.Vrrp;

/// <summary>Every drop reason, reached from the wire (TryRead) or from local rules (Validate).</summary>
public class VrrpDropReasonTests
{
    public record WireCase(string Name, byte[] Message, IPAddress? Source, IPAddress? Destination, VrrpDropReason Expected)
    {
        public override string ToString() => Name;
    }

    public record RuleCase(string Name, VrrpAdvertisement Advert, int Ttl, VrrpReceiveRules Rules, VrrpDropReason Expected)
    {
        public override string ToString() => Name;
    }

    private static byte[] ValidV2 => Encode(V2(password: "1111"));
    private static byte[] ValidV3V4 => Encode(V3(AddressFamily.InterNetwork));
    private static byte[] ValidV3V6 => Encode(V3(AddressFamily.InterNetworkV6));

    private static byte[] Edit(byte[] message, Action<byte[]> edit)
    {
        edit(message);
        return message;
    }

    private static byte[] EditAndFixChecksum(byte[] message, IPAddress source, IPAddress destination, Action<byte[]> edit) =>
        WithFixedChecksum(Edit(message, edit), source, destination);

    public static IEnumerable<WireCase> WireCases() =>
    [
        new("v2 ok", ValidV2, SourceV4, GroupV4, VrrpDropReason.Ok),
        new("v3 IPv4 ok", ValidV3V4, SourceV4, GroupV4, VrrpDropReason.Ok),
        new("v3 IPv6 ok", ValidV3V6, SourceV6, GroupV6, VrrpDropReason.Ok),
        new("empty", [], SourceV4, GroupV4, VrrpDropReason.Truncated),
        new("shorter than the fixed header", ValidV3V4[..7], SourceV4, GroupV4, VrrpDropReason.Truncated),
        new("v2 without its authentication data", ValidV2[..^8], SourceV4, GroupV4, VrrpDropReason.Truncated),
        new("v2 missing one byte", ValidV2[..^1], SourceV4, GroupV4, VrrpDropReason.Truncated),
        new("v3 IPv6 address cut short", ValidV3V6[..^1], SourceV6, GroupV6, VrrpDropReason.Truncated),
        new("v3 IPv4 count says 2, carries 1", Edit(ValidV3V4, m => m[3] = 2), SourceV4, GroupV4, VrrpDropReason.Truncated),
        new("v3 IPv6 message read as IPv4 (too long)", ValidV3V6, SourceV4, GroupV4, VrrpDropReason.LengthMismatch),
        new("v2 with a trailing byte", [.. ValidV2, 0], SourceV4, GroupV4, VrrpDropReason.LengthMismatch),
        new("v3 with a trailing address", [.. ValidV3V4, 198, 18, 0, 9], SourceV4, GroupV4, VrrpDropReason.LengthMismatch),
        new("version 0", Edit(ValidV2, m => m[0] = 0x01), SourceV4, GroupV4, VrrpDropReason.BadVersion),
        new("version 1", Edit(ValidV2, m => m[0] = 0x11), SourceV4, GroupV4, VrrpDropReason.BadVersion),
        new("version 4", Edit(ValidV3V4, m => m[0] = 0x41), SourceV4, GroupV4, VrrpDropReason.BadVersion),
        new("version 15", Edit(ValidV3V4, m => m[0] = 0xF1), SourceV4, GroupV4, VrrpDropReason.BadVersion),
        new("type 0", Edit(ValidV3V4, m => m[0] = 0x30), SourceV4, GroupV4, VrrpDropReason.BadType),
        new("type 2", Edit(ValidV2, m => m[0] = 0x22), SourceV4, GroupV4, VrrpDropReason.BadType),
        new("v2 over IPv6", ValidV2, SourceV6, GroupV6, VrrpDropReason.AddressFamilyMismatch),
        new("IPv4 source, IPv6 destination", ValidV3V4, SourceV4, GroupV6, VrrpDropReason.AddressFamilyMismatch),
        new("no source address", ValidV3V4, null, GroupV4, VrrpDropReason.AddressFamilyMismatch),
        new("no destination address", ValidV3V4, SourceV4, null, VrrpDropReason.AddressFamilyMismatch),
        new("v2 count 0", Edit(ValidV2, m => m[3] = 0), SourceV4, GroupV4, VrrpDropReason.ZeroAddressCount),
        new("v3 count 0, header only", ValidV3V4[..8].Select((b, i) => i == 3 ? (byte)0 : b).ToArray(), SourceV4, GroupV4, VrrpDropReason.ZeroAddressCount),
        new("v2 auth type 3", EditAndFixChecksum(ValidV2, SourceV4, GroupV4, m => m[4] = 3), SourceV4, GroupV4, VrrpDropReason.UnknownAuthType),
        new("v2 auth type 255", EditAndFixChecksum(ValidV2, SourceV4, GroupV4, m => m[4] = 255), SourceV4, GroupV4, VrrpDropReason.UnknownAuthType),
        new("v2 adver int 0", EditAndFixChecksum(ValidV2, SourceV4, GroupV4, m => m[5] = 0), SourceV4, GroupV4, VrrpDropReason.InvalidAdvertInterval),
        new("v3 max adver int 0 (reserved bits set)", EditAndFixChecksum(ValidV3V4, SourceV4, GroupV4, m => { m[4] = 0xF0; m[5] = 0; }), SourceV4, GroupV4, VrrpDropReason.InvalidAdvertInterval),
        new("v2 flipped priority bit", Edit(ValidV2, m => m[2] ^= 0x01), SourceV4, GroupV4, VrrpDropReason.BadChecksum),
        new("v2 wrong password byte", Edit(ValidV2, m => m[^8] ^= 0x40), SourceV4, GroupV4, VrrpDropReason.BadChecksum),
        new("v3 IPv4 other source", ValidV3V4, V4(2), GroupV4, VrrpDropReason.BadChecksum),
        new("v3 IPv4 unicast destination", ValidV3V4, SourceV4, V4(2), VrrpDropReason.BadChecksum),
        new("v3 IPv6 other source", ValidV3V6, IPAddress.Parse("fe80::2"), GroupV6, VrrpDropReason.BadChecksum),
        new("v3 IPv6 flipped address bit", Edit(ValidV3V6, m => m[^1] ^= 0x80), SourceV6, GroupV6, VrrpDropReason.BadChecksum),
    ];

    private static readonly VrrpReceiveRules V2Rules = new(
        VrrpVersion.V2, 51, [V4(8), V4(9)], TimeSpan.FromSeconds(1), VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("1111"));

    private static readonly VrrpReceiveRules V3Rules = new(
        VrrpVersion.V3, 51, [V6(8), V6(9)], TimeSpan.FromSeconds(1), VrrpAuthType.None, default);

    private static VrrpAdvertisement V2Advert => V2(addressCount: 2, password: "1111");
    private static VrrpAdvertisement V3Advert => V3(AddressFamily.InterNetworkV6, addressCount: 2);

    public static IEnumerable<RuleCase> RuleCases() =>
    [
        new("v2 ok", V2Advert, 255, V2Rules, VrrpDropReason.Ok),
        new("v3 ok", V3Advert, 255, V3Rules, VrrpDropReason.Ok),
        new("v2 addresses in another order", V2Advert with { Addresses = [V4(9), V4(8)] }, 255, V2Rules, VrrpDropReason.Ok),
        new("v3 learns another interval", V3Advert with { AdvertInterval = TimeSpan.FromMilliseconds(30) }, 255, V3Rules, VrrpDropReason.Ok),
        new("short configured password compared zero padded", V2Advert, 255, V2Rules with { AuthData = "1111"u8.ToArray() }, VrrpDropReason.Ok),
        new("configured VIP with a scope id", V3Advert, 255, V3Rules with { VirtualAddresses = [V6(9), new IPAddress(V6(8).GetAddressBytes(), 3)] }, VrrpDropReason.Ok),
        new("v2 without auth on both sides", V2Advert with { AuthType = VrrpAuthType.None, AuthData = default }, 255, V2Rules with { AuthType = VrrpAuthType.None, AuthData = default }, VrrpDropReason.Ok),
        new("TTL 254 (routed)", V2Advert, 254, V2Rules, VrrpDropReason.BadTtl),
        new("TTL 64", V3Advert, 64, V3Rules, VrrpDropReason.BadTtl),
        new("TTL 0", V2Advert, 0, V2Rules, VrrpDropReason.BadTtl),
        new("TTL out of range", V2Advert, 256, V2Rules, VrrpDropReason.BadTtl),
        new("v3 advert, v2 configured", V3Advert, 255, V2Rules, VrrpDropReason.VersionMismatch),
        new("v2 advert, v3 configured", V2Advert, 255, V3Rules, VrrpDropReason.VersionMismatch),
        new("other VRID", V2Advert with { VirtualRouterId = 52 }, 255, V2Rules, VrrpDropReason.UnknownVirtualRouterId),
        new("we own the addresses", V3Advert, 255, V3Rules with { LocalIsAddressOwner = true }, VrrpDropReason.LocalRouterIsAddressOwner),
        new("no auth received, PASS configured", V2Advert with { AuthType = VrrpAuthType.None, AuthData = default }, 255, V2Rules, VrrpDropReason.AuthTypeMismatch),
        new("PASS received, none configured", V2Advert, 255, V2Rules with { AuthType = VrrpAuthType.None, AuthData = default }, VrrpDropReason.AuthTypeMismatch),
        new("wrong password", V2Advert with { AuthData = VrrpSimplePassword.ToAuthData("1112") }, 255, V2Rules, VrrpDropReason.AuthenticationFailed),
        new("password differs only in the padding", V2Advert with { AuthData = "1111\0\0\0x"u8.ToArray() }, 255, V2Rules, VrrpDropReason.AuthenticationFailed),
        new("configured password longer than the field", V2Advert, 255, V2Rules with { AuthData = "111100000"u8.ToArray() }, VrrpDropReason.AuthenticationFailed),
        new("IPsec AH cannot be verified", V2Advert with { AuthType = VrrpAuthType.IpAuthenticationHeader }, 255, V2Rules with { AuthType = VrrpAuthType.IpAuthenticationHeader }, VrrpDropReason.AuthenticationFailed),
        new("IPv4 advert for IPv6 VIPs", V3(AddressFamily.InterNetwork, addressCount: 2), 255, V3Rules, VrrpDropReason.AddressFamilyMismatch),
        new("three addresses leaving one of ours out", V2Advert with { Addresses = [V4(8), V4(10), V4(11)] }, 255, V2Rules, VrrpDropReason.AddressListMismatch),
        new("ours and one more (the sender added a VIP first)", V2(addressCount: 3, password: "1111"), 255, V2Rules, VrrpDropReason.Ok),
        new("ours and one more, listed twice", V2Advert with { Addresses = [V4(8), V4(9), V4(8)] }, 255, V2Rules, VrrpDropReason.AddressListMismatch),
        new("our list before a VIP was added in place", V3(AddressFamily.InterNetworkV6), 255, V3Rules with { PreviousAddresses = [V6(8)] }, VrrpDropReason.Ok),
        new("a list we never had, as long as the previous one", V3(AddressFamily.InterNetworkV6) with { Addresses = [V6(9)] }, 255, V3Rules with { PreviousAddresses = [V6(8)] }, VrrpDropReason.AddressCountMismatch),
        new("one address too few", V3(AddressFamily.InterNetworkV6), 255, V3Rules, VrrpDropReason.AddressCountMismatch),
        new("other address", V2Advert with { Addresses = [V4(8), V4(10)] }, 255, V2Rules, VrrpDropReason.AddressListMismatch),
        new("duplicate address", V3Advert with { Addresses = [V6(8), V6(8)] }, 255, V3Rules, VrrpDropReason.AddressListMismatch),
        new("address owner with other addresses", V2Advert with { Priority = 255, Addresses = [V4(8), V4(10)] }, 255, V2Rules, VrrpDropReason.AddressListMismatch),
        new("priority 0 with other addresses", V3Advert with { Priority = 0, Addresses = [V6(8), V6(10)] }, 255, V3Rules, VrrpDropReason.AddressListMismatch),
        new("v2 interval 2 s, 1 s configured", V2Advert with { AdvertInterval = TimeSpan.FromSeconds(2) }, 255, V2Rules, VrrpDropReason.AdvertIntervalMismatch),
    ];

    public static TheoryData<WireCase> WireData => new(WireCases());
    public static TheoryData<RuleCase> RuleData => new(RuleCases());

    [Theory]
    [MemberData(nameof(WireData))]
    public void TryReadReports(WireCase c)
    {
        VrrpDropReason result = VrrpPacket.TryRead(c.Message, c.Source!, c.Destination!, out VrrpAdvertisement? advert);
        Assert.Equal(c.Expected, result);
        Assert.Equal(c.Expected == VrrpDropReason.Ok, advert is not null);
    }

    [Theory]
    [MemberData(nameof(RuleData))]
    public void ValidateReports(RuleCase c) =>
        Assert.Equal(c.Expected, VrrpReceiveValidator.Validate(c.Advert, c.Ttl, c.Rules));

    [Fact]
    public void EveryReasonIsReachedByATableCase()
    {
        var reached = WireCases().Select(c => c.Expected).Concat(RuleCases().Select(c => c.Expected)).ToHashSet();
        VrrpDropReason[] missing = Enum.GetValues<VrrpDropReason>().Where(r => !reached.Contains(r)).ToArray();
        Assert.Empty(missing);
    }

    [Fact]
    public void EveryReasonHasItsOwnDescription()
    {
        VrrpDropReason[] all = Enum.GetValues<VrrpDropReason>();
        string[] descriptions = all.Select(r => r.Describe()).ToArray();
        Assert.All(descriptions, d => Assert.DoesNotContain("unknown drop reason", d));
        Assert.Equal(all.Length, descriptions.Distinct().Count());
    }
}
