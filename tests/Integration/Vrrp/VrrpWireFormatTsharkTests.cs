using System.Net;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.Integration.Tests.Vrrp;

/// <summary>
/// Wireshark's VRRP dissector as an independent judge of our encoder: adverts written into a pcap
/// file (no traffic is sent) must decode with the right version, a Good checksum and no expert errors.
/// </summary>
public sealed class VrrpWireFormatTsharkTests : IDisposable
{
    private static readonly IPAddress SourceV4 = IPAddress.Parse("198.18.0.1");
    private static readonly IPAddress SourceV6 = IPAddress.Parse("fe80::200:5eff:fe00:235");
    private static readonly DateTimeOffset CaptureStart = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // Wireshark's expert severities (epan/proto.h: PI_WARN, PI_ERROR).
    private const long ExpertWarning = 0x00600000;

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("pk-vrrp-pcap-");

    public void Dispose() => _directory.Delete(recursive: true);

    private sealed record Frame(VrrpAdvertisement Advert, IPAddress Source, IPAddress Destination, byte[] Vrrp);

    [Fact]
    public void TsharkDecodesOurAdvertsWithGoodChecksums()
    {
        Frame[] frames =
        [
            Build(new VrrpAdvertisement(VrrpVersion.V2, 51, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.8")],
                VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("1111")), SourceV4),
            Build(new VrrpAdvertisement(VrrpVersion.V2, 1, 255, TimeSpan.FromSeconds(3),
                [IPAddress.Parse("198.18.0.8"), IPAddress.Parse("198.18.0.9"), IPAddress.Parse("198.18.0.10")]), SourceV4),
            Build(new VrrpAdvertisement(VrrpVersion.V3, 52, 150, TimeSpan.FromMilliseconds(1000),
                [IPAddress.Parse("198.18.0.20"), IPAddress.Parse("198.18.0.21")]), SourceV4),
            Build(new VrrpAdvertisement(VrrpVersion.V3, 255, 0, TimeSpan.FromMilliseconds(40950), [IPAddress.Parse("198.18.0.22")]), SourceV4),
            Build(new VrrpAdvertisement(VrrpVersion.V3, 53, 200, TimeSpan.FromMilliseconds(10),
                [IPAddress.Parse("fe80::53"), IPAddress.Parse("fd00::53")]), SourceV6),
        ];

        List<TsharkRow> rows = Dissect(frames);

        Assert.Equal(frames.Length, rows.Count);
        for (int i = 0; i < frames.Length; i++)
        {
            TsharkRow row = rows[i];
            VrrpAdvertisement advert = frames[i].Advert;
            string where = $"frame {i + 1}: {row.Raw}";
            Assert.True(((int)advert.Version).ToString() == row.Version, where);
            Assert.True(advert.VirtualRouterId.ToString() == row.VirtualRouterId, where);
            Assert.True(advert.Priority.ToString() == row.Priority, where);
            Assert.True(advert.Addresses.Count.ToString() == row.AddressCount, where);
            Assert.True(row.ChecksumStatus == TsharkRow.ChecksumGood, where);
            Assert.True(row.Malformed.Length == 0, where);
            Assert.True(row.ExpertSeverities.All(s => s < ExpertWarning), where);
            bool isIPv4 = frames[i].Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork;
            Assert.True(row.Protocols == (isIPv4 ? "eth:ethertype:ip:vrrp" : "eth:ethertype:ipv6:vrrp"), where);
            Assert.True(!isIPv4 || row.Ipv4HeaderChecksumStatus == TsharkRow.ChecksumGood, where);
        }
        Assert.Equal("1111", rows[0].AuthString);
        Assert.Equal(["fe80::53", "fd00::53"], rows[4].Ipv6Addresses);
    }

    [Fact]
    public void TsharkFlagsACorruptedChecksum()
    {
        Frame good = Build(new VrrpAdvertisement(VrrpVersion.V3, 52, 150, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.20")]), SourceV4);
        Frame goodV6 = Build(new VrrpAdvertisement(VrrpVersion.V3, 53, 150, TimeSpan.FromSeconds(1), [IPAddress.Parse("fd00::53")]), SourceV6);
        Frame goodV2 = Build(new VrrpAdvertisement(VrrpVersion.V2, 51, 100, TimeSpan.FromSeconds(1), [IPAddress.Parse("198.18.0.8")],
            VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("1111")), SourceV4);

        Frame[] frames = [Corrupt(good), Corrupt(goodV6), Corrupt(goodV2), good];
        List<TsharkRow> rows = Dissect(frames);

        Assert.Equal(4, rows.Count);
        Assert.All(rows.Take(3), row => Assert.True(row.ChecksumStatus == TsharkRow.ChecksumBad, row.Raw));
        Assert.All(rows.Take(3), row => Assert.True(row.ExpertSeverities.Any(s => s >= ExpertWarning), row.Raw));
        Assert.True(rows[3].ChecksumStatus == TsharkRow.ChecksumGood, rows[3].Raw);
    }

    [Fact]
    public void TsharkDecodesOurUnsolicitedNeighborAdvertisementsWithGoodChecksums()
    {
        var mac = System.Net.NetworkInformation.PhysicalAddress.Parse("02-00-C6-12-00-02");
        IPAddress[] targets = [IPAddress.Parse("fd00::100"), NginxHa.Core.Resources.VirtualRouterLinkLocal.For(52), IPAddress.Parse("fd00::ffff:1")];
        var frames = targets.Select((target, i) =>
        {
            var frame = new byte[NodeAgent.Network.Announce.UnsolicitedNeighborAdvertisementFrame.Size];
            NodeAgent.Network.Announce.UnsolicitedNeighborAdvertisementFrame.Write(frame, mac, target, isRouter: i == 2);
            return (CaptureStart.AddMilliseconds(i), frame);
        }).ToList();
        var corrupted = (byte[])frames[0].frame.Clone();
        corrupted[14 + 40 + 3] ^= 0x01; // low ICMPv6 checksum byte
        frames.Add((CaptureStart.AddMilliseconds(10), corrupted));

        var rows = NeighborAdvertisementDissector.Dissect(frames);

        Assert.Equal(frames.Count, rows.Count);
        for (int i = 0; i < targets.Length; i++)
        {
            var row = rows[i];
            Assert.True(row.Protocols == "eth:ethertype:ipv6:icmpv6", row.Raw);
            Assert.True(row.Clean, row.Raw);
            Assert.True((row.Type, row.Code, row.HopLimit) == ("136", "0", "255"), row.Raw);
            Assert.True((row.Source, row.Destination, row.EthernetDestination) == (targets[i].ToString(), "ff02::1", "33:33:00:00:00:01"), row.Raw);
            Assert.True(row.Target == targets[i].ToString(), row.Raw);
            Assert.True(row.Override && !row.Solicited && row.Router == (i == 2), row.Raw);
            Assert.True((row.OptionType, row.LinkAddress, row.EthernetSource) == ("2", "0200c6120002", "02:00:c6:12:00:02"), row.Raw);
        }
        Assert.True(rows[^1].ChecksumStatus == NeighborAdvertisementDissector.ChecksumBad, rows[^1].Raw);
        Assert.True(rows[^1].ExpertSeverities.Any(s => s >= NeighborAdvertisementDissector.ExpertWarning), rows[^1].Raw);
    }

    private static Frame Build(VrrpAdvertisement advert, IPAddress source)
    {
        IPAddress destination = source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? VrrpPacket.IPv4MulticastGroup
            : VrrpPacket.IPv6MulticastGroup;
        var vrrp = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(vrrp, advert, source, destination);
        return new Frame(advert, source, destination, vrrp);
    }

    private static Frame Corrupt(Frame frame)
    {
        byte[] vrrp = (byte[])frame.Vrrp.Clone();
        vrrp[7] ^= 0x01; // low checksum byte
        return frame with { Vrrp = vrrp };
    }

    private List<TsharkRow> Dissect(IReadOnlyList<Frame> frames)
    {
        string tshark = RequiredTool.Locate("tshark", "tshark");
        string path = Path.Combine(_directory.FullName, "adverts.pcap");
        using (FileStream file = File.Create(path))
        using (var pcap = new PcapWriter(file))
        {
            for (int i = 0; i < frames.Count; i++)
            {
                pcap.WritePacket(CaptureStart.AddMilliseconds(i), ToEthernet(frames[i], (ushort)(i + 1)));
            }
        }

        (int exitCode, string output, string error) = RequiredTool.Run(tshark,
        [
            "-r", path, "-n",
            "-o", "vrrp.v3_checksum_as_in_v2:FALSE", "-o", "ip.check_checksum:TRUE",
            "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
            .. TsharkRow.Fields.SelectMany(f => new[] { "-e", f }),
        ], TimeSpan.FromSeconds(60));
        Assert.True(exitCode == 0, $"tshark exited {exitCode}: {error}");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(TsharkRow.Parse).ToList();
    }

    private static byte[] ToEthernet(Frame frame, ushort identification)
    {
        byte vrid = frame.Advert.VirtualRouterId;
        if (frame.Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            // Virtual router MAC 00-00-5E-00-01-{VRID} (RFC 5798 section 7.3); keepalived's IP TOS 0xc0.
            return EthernetFrames.IPv4([0x00, 0x00, 0x5E, 0x00, 0x01, vrid], EthernetFrames.IPv4MulticastMac(frame.Destination),
                frame.Source, frame.Destination, VrrpPacket.IpProtocolNumber, VrrpPacket.RequiredTtl, 0xC0, identification, frame.Vrrp);
        }
        return EthernetFrames.IPv6([0x00, 0x00, 0x5E, 0x00, 0x02, vrid], EthernetFrames.IPv6MulticastMac(frame.Destination),
            frame.Source, frame.Destination, VrrpPacket.IpProtocolNumber, VrrpPacket.RequiredTtl, frame.Vrrp);
    }

    private sealed record TsharkRow(string Raw, string Protocols, string Version, string VirtualRouterId, string Priority,
        string AddressCount, string ChecksumStatus, string AuthString, string[] Ipv6Addresses, string Malformed, long[] ExpertSeverities,
        string Ipv4HeaderChecksumStatus)
    {
        // Wireshark's proto_checksum_status values.
        public const string ChecksumBad = "0";
        public const string ChecksumGood = "1";

        public static readonly string[] Fields =
        [
            "frame.protocols", "vrrp.version", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count", "vrrp.checksum.status",
            "vrrp.auth_string", "vrrp.ipv6_addr", "_ws.malformed", "_ws.expert.severity", "ip.checksum.status",
        ];

        public static TsharkRow Parse(string line)
        {
            string[] f = line.TrimEnd('\r').Split('\t');
            Assert.True(f.Length == Fields.Length, $"expected {Fields.Length} fields in '{line}'");
            Assert.True(f[0].EndsWith(":vrrp", StringComparison.Ordinal), $"not dissected as VRRP: '{line}'");
            return new TsharkRow(line, f[0], f[1], f[2], f[3], f[4], f[5], f[6],
                f[7].Split(';', StringSplitOptions.RemoveEmptyEntries), f[8],
                f[9].Split(';', StringSplitOptions.RemoveEmptyEntries).Select(ParseSeverity).ToArray(), f[10]);
        }

        private static long ParseSeverity(string value) =>
            value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(value[2..], 16) : long.Parse(value);
    }
}
