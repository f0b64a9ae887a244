using System.Net;
using System.Net.NetworkInformation;
using System.Text.Json;
using NginxHa.NodeAgent.Survey;
using NginxHa.NodeAgent.Vrrp;
using PacketDotNet;

namespace NginxHa.NodeAgent.Tests.Survey;

/// <summary>The survey's decoding and aggregation (pure): frames built here, with the capture times they say.</summary>
public sealed class VrrpSurveyTests
{
    static readonly DateTime T0 = new(2026, 12, 2, 9, 0, 0, DateTimeKind.Utc);
    static readonly IPAddress RouterA = IPAddress.Parse("198.18.7.1"), RouterB = IPAddress.Parse("198.18.7.2");
    static readonly IPAddress Router6 = IPAddress.Parse("fe80::1");

    static VrrpAdvertisement V3(byte vrid, byte priority, params string[] vips) =>
        new(VrrpVersion.V3, vrid, priority, TimeSpan.FromMilliseconds(100), vips.Select(IPAddress.Parse).ToList());

    static byte[] Frame(IPAddress source, VrrpAdvertisement advert, byte ttl = 255)
    {
        var group = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? VrrpPacket.IPv6MulticastGroup : VrrpPacket.IPv4MulticastGroup;
        var vrrp = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(vrrp, advert, source, group);
        IPPacket ip = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? new IPv6Packet(source, group) { HopLimit = ttl }
            : new IPv4Packet(source, group) { TimeToLive = ttl };
        ip.Protocol = (ProtocolType)VrrpPacket.IpProtocolNumber;
        ip.PayloadData = vrrp;
        if (ip is IPv6Packet v6) v6.PayloadLength = (ushort)vrrp.Length;
        if (ip is IPv4Packet v4) v4.UpdateIPChecksum();
        var ethernet = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("01-00-5E-00-00-12"),
            ip is IPv6Packet ? EthernetType.IPv6 : EthernetType.IPv4) { PayloadPacket = ip };
        return ethernet.Bytes;
    }

    static void Stream(VrrpSurvey survey, IPAddress source, VrrpAdvertisement advert, TimeSpan from, int count, TimeSpan? every = null)
    {
        for (int i = 0; i < count; i++)
            survey.Add((int)LinkLayers.Ethernet, Frame(source, advert), T0 + from + i * (every ?? advert.AdvertInterval));
    }

    [Fact]
    public void EveryVridHeardIsListedWithItsVersionSourcePriorityIntervalVipsAndAuthType()
    {
        var survey = new VrrpSurvey();
        var v2 = new VrrpAdvertisement(VrrpVersion.V2, 51, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.7.51")],
            VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("s3cret!"));
        Stream(survey, RouterA, v2, TimeSpan.Zero, 3);
        Stream(survey, RouterB, V3(52, 150, "198.18.7.52", "198.18.7.53"), TimeSpan.Zero, 5);
        Stream(survey, Router6, V3(52, 200, "fd00:7::52"), TimeSpan.Zero, 4);
        survey.Add((int)LinkLayers.Ethernet, new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-09"),
            PhysicalAddress.Parse("FF-FF-FF-FF-FF-FF"), EthernetType.Arp) { PayloadData = new byte[28] }.Bytes, T0);

        var report = survey.Report();

        Assert.Empty(report.Undecodable);
        Assert.Equal(13, report.FramesSeen);
        Assert.Equal(0, report.ConflictCount);
        Assert.Equal([("IPv4", 51), ("IPv4", 52), ("IPv6", 52)], report.Routers.Select(r => (r.Family, r.Vrid)));
        var a = report.Routers[0].Speakers.Single();
        Assert.Equal(("198.18.7.1", VrrpVersion.V2, 100, TimeSpan.FromSeconds(1), VrrpAuthType.SimpleText, 3, 255),
            (a.Source, a.Version, a.Priority, a.AdvertInterval, a.Authentication, a.Adverts, a.Ttl));
        Assert.Equal(["198.18.7.51"], a.VirtualAddresses);
        var b = report.Routers[1].Speakers.Single();
        Assert.Equal(("198.18.7.2", VrrpVersion.V3, 150, TimeSpan.FromMilliseconds(100), VrrpAuthType.None, 5),
            (b.Source, b.Version, b.Priority, b.AdvertInterval, b.Authentication, b.Adverts));
        Assert.Equal(["198.18.7.52", "198.18.7.53"], b.VirtualAddresses);
        Assert.Equal(["fd00:7::52"], report.Routers[2].Speakers.Single().VirtualAddresses);

        // The password is a secret: the report says PASS, never what it is.
        var text = SurveyReportFormat.Text(report, "test");
        var json = SurveyReportFormat.Json(report, "test");
        Assert.DoesNotContain("s3cret", text);
        Assert.DoesNotContain("s3cret", json);
        Assert.Contains("PASS", text);
        Assert.Matches(@"IPv4\s+52\s+v3\s+198\.18\.7\.2\s+150\s+100ms\s+none\s+5\s+198\.18\.7\.52,198\.18\.7\.53", text);
        using var doc = JsonDocument.Parse(json);
        var routers = doc.RootElement.GetProperty("routers");
        Assert.Equal(3, routers.GetArrayLength());
        Assert.Equal("PASS", routers[0].GetProperty("speakers")[0].GetProperty("authentication").GetString());
        Assert.Equal(0.1, routers[1].GetProperty("speakers")[0].GetProperty("advertIntervalSeconds").GetDouble());
    }

    [Fact]
    public void SameVridWithDifferentVipsIsAConflict()
    {
        var survey = new VrrpSurvey();
        // One after the other (no overlap, so not two masters), but the VIP sets differ.
        Stream(survey, RouterA, V3(60, 100, "198.18.7.60"), TimeSpan.Zero, 5);
        Stream(survey, RouterB, V3(60, 100, "198.18.7.61"), TimeSpan.FromSeconds(2), 5);

        var conflict = Assert.Single(survey.Report().Routers.Single().Conflicts);
        Assert.Equal(SurveyConflictKind.DifferentAddresses, conflict.Kind);
        Assert.Contains("198.18.7.60", conflict.Detail);
        Assert.Contains("198.18.7.61", conflict.Detail);
    }

    [Fact]
    public void TwoSourcesAdvertisingAtOnceAreTwoMasters()
    {
        var survey = new VrrpSurvey();
        Stream(survey, RouterA, V3(61, 100, "198.18.7.61"), TimeSpan.Zero, 20);
        Stream(survey, RouterB, V3(61, 90, "198.18.7.61"), TimeSpan.FromMilliseconds(50), 20);

        var report = survey.Report();
        var conflict = Assert.Single(report.Routers.Single().Conflicts);
        Assert.Equal(SurveyConflictKind.TwoMasters, conflict.Kind);
        Assert.Equal(1, report.ConflictCount);
        Assert.Contains("CONFLICT IPv4 VRID 61: two masters", SurveyReportFormat.Text(report, "test"));
    }

    [Fact]
    public void AHandOverIsNotTwoMasters()
    {
        var survey = new VrrpSurvey();
        // A preempts B: B's last advert one interval after A's first, then B says priority 0 ... and a crash
        // take-over: A silent for the master-down interval, then B.
        Stream(survey, RouterB, V3(62, 90, "198.18.7.62"), TimeSpan.Zero, 10);
        Stream(survey, RouterA, V3(62, 200, "198.18.7.62"), TimeSpan.FromMilliseconds(900), 10);
        survey.Add((int)LinkLayers.Ethernet, Frame(RouterB, V3(62, 0, "198.18.7.62")), T0 + TimeSpan.FromMilliseconds(950));

        var router = survey.Report().Routers.Single();
        Assert.Empty(router.Conflicts);
        var b = router.Speakers.Single(s => s.Source == RouterB.ToString());
        Assert.Equal((0, 0, 90), (b.Priority, b.LowestPriority, b.HighestPriority));
    }

    [Fact]
    public void DifferentVersionOrAuthenticationOnOneVridAreConflicts()
    {
        var survey = new VrrpSurvey();
        var v2 = new VrrpAdvertisement(VrrpVersion.V2, 63, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.7.63")],
            VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("pw"));
        Stream(survey, RouterA, v2, TimeSpan.Zero, 2);
        Stream(survey, RouterB, V3(63, 100, "198.18.7.63"), TimeSpan.FromSeconds(5), 2);

        Assert.Equal([SurveyConflictKind.DifferentVersion, SurveyConflictKind.DifferentAuthentication],
            survey.Report().Routers.Single().Conflicts.Select(c => c.Kind));
    }

    [Fact]
    public void ProtocolOneTwelvePacketsOurCodecRefusesAreCountedBySourceAndReason()
    {
        var survey = new VrrpSurvey();
        var frame = Frame(RouterA, V3(64, 100, "198.18.7.64"));
        frame[^3] ^= 0xFF; // inside the address: the checksum no longer matches
        survey.Add((int)LinkLayers.Ethernet, frame, T0);
        survey.Add((int)LinkLayers.Ethernet, frame, T0);

        var report = survey.Report();
        Assert.Empty(report.Routers);
        var bad = Assert.Single(report.Undecodable);
        Assert.Equal(("198.18.7.1", VrrpDropReason.BadChecksum, 2), (bad.Source, bad.Reason, bad.Count));
    }
}

/// <summary>The link and IP headers the survey reads itself (the shipped NativeAOT agent has no PacketDotNet).</summary>
public sealed class CapturedFrameTests
{
    static readonly IPAddress Source = IPAddress.Parse("198.18.7.1");

    static byte[] EthernetVrrp(out byte[] vrrp)
    {
        var advert = new VrrpAdvertisement(VrrpVersion.V3, 9, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.7.9")]);
        vrrp = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(vrrp, advert, Source, VrrpPacket.IPv4MulticastGroup);
        var ip = new IPv4Packet(Source, VrrpPacket.IPv4MulticastGroup) { TimeToLive = 255, Protocol = (ProtocolType)112, PayloadData = vrrp };
        ip.UpdateIPChecksum();
        return new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("01-00-5E-00-00-12"), EthernetType.IPv4)
            { PayloadPacket = ip }.Bytes;
    }

    [Fact]
    public void EthernetWithAndWithoutVlanTagAndLinuxCookedFramesYieldTheSameVrrpPayload()
    {
        var ethernet = EthernetVrrp(out var vrrp);
        // 802.1Q: a 4-byte tag (TPID 0x8100, VLAN 7) between the source MAC and the EtherType.
        byte[] tagged = [.. ethernet[..12], 0x81, 0x00, 0x00, 0x07, .. ethernet[12..]];
        // Linux cooked (DLT_LINUX_SLL, "any" device): 16 bytes, the protocol last.
        byte[] cooked = [0, 0, 0, 1, 0, 6, .. ethernet[6..12], 0, 0, 0x08, 0x00, .. ethernet[14..]];

        foreach (var (link, frame) in new[] { (CapturedFrame.LinkTypeEthernet, ethernet), (CapturedFrame.LinkTypeEthernet, tagged),
                     (CapturedFrame.LinkTypeLinuxSll, cooked), (CapturedFrame.LinkTypeRaw, ethernet[14..]) })
        {
            Assert.True(CapturedFrame.TryReadIp(link, frame, 112, out var ip), $"link type {link}: {Convert.ToHexString(frame)}");
            Assert.Equal((Source, VrrpPacket.IPv4MulticastGroup, 255), (ip.Source, ip.Destination, ip.TtlOrHopLimit));
            Assert.Equal(vrrp, ip.Payload);
        }
    }

    [Fact]
    public void OtherProtocolsTruncatedFramesAndUnknownLinkTypesYieldNothing()
    {
        var ethernet = EthernetVrrp(out _);
        Assert.False(CapturedFrame.TryReadIp(CapturedFrame.LinkTypeEthernet, ethernet, 17, out _));
        Assert.False(CapturedFrame.TryReadIp(CapturedFrame.LinkTypeEthernet, ethernet[..30], 112, out _));
        Assert.False(CapturedFrame.TryReadIp(CapturedFrame.LinkTypeEthernet, ethernet[..10], 112, out _));
        Assert.False(CapturedFrame.TryReadIp(105 /* 802.11 */, ethernet, 112, out _));
    }
}
