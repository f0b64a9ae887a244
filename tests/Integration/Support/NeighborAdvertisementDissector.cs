namespace NginxHa.Integration.Tests.Support;

/// <summary>
/// Wireshark's ICMPv6 dissector as an independent judge of Neighbor Advertisement frames (RFC 4861 section 4.4):
/// the frames go into a pcap file, tshark reads them back field by field.
/// </summary>
public static class NeighborAdvertisementDissector
{
    // Wireshark's expert severity PI_WARN (epan/proto.h); a bad checksum or a malformed option is at least that.
    public const long ExpertWarning = 0x00600000;

    // Wireshark's proto_checksum_status values.
    public const string ChecksumBad = "0";
    public const string ChecksumGood = "1";

    static readonly string[] Fields =
    [
        "frame.protocols", "eth.src", "eth.dst", "ipv6.src", "ipv6.dst", "ipv6.hlim", "icmpv6.type", "icmpv6.code",
        "icmpv6.checksum.status", "icmpv6.nd.na.flag.r", "icmpv6.nd.na.flag.s", "icmpv6.nd.na.flag.o",
        "icmpv6.nd.na.target_address", "icmpv6.opt.type", "icmpv6.opt.linkaddr", "_ws.malformed", "_ws.expert.severity",
    ];

    public sealed record Row(string Raw, string Protocols, string EthernetSource, string EthernetDestination, string Source,
        string Destination, string HopLimit, string Type, string Code, string ChecksumStatus, bool Router, bool Solicited, bool Override,
        string Target, string OptionType, string LinkAddress, string Malformed, long[] ExpertSeverities)
    {
        /// <summary>No malformed mark, no expert note at warning level or above, and a good checksum.</summary>
        public bool Clean => Malformed.Length == 0 && ExpertSeverities.All(s => s < ExpertWarning) && ChecksumStatus == ChecksumGood;
    }

    public static List<Row> Dissect(IReadOnlyList<(DateTimeOffset At, byte[] Frame)> frames)
    {
        string tshark = RequiredTool.Locate("tshark", "tshark");
        var directory = Directory.CreateTempSubdirectory("nginx-ha-na-pcap-");
        try
        {
            string path = Path.Combine(directory.FullName, "na.pcap");
            using (FileStream file = File.Create(path))
            using (var pcap = new PcapWriter(file))
            {
                foreach (var (at, frame) in frames) pcap.WritePacket(at, frame);
            }
            (int exitCode, string output, string error) = RequiredTool.Run(tshark,
            [
                "-r", path, "-n", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                .. Fields.SelectMany(f => new[] { "-e", f }),
            ], TimeSpan.FromSeconds(60));
            Assert.True(exitCode == 0, $"tshark exited {exitCode}: {error}");
            return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToList();
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    static Row Parse(string line)
    {
        string[] f = line.TrimEnd('\r').Split('\t');
        Assert.True(f.Length == Fields.Length, $"expected {Fields.Length} fields in '{line}'");
        return new Row(line, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], Flag(f[9]), Flag(f[10]), Flag(f[11]), f[12], f[13],
            f[14].Replace(":", "", StringComparison.Ordinal).ToLowerInvariant(), f[15],
            f[16].Split(';', StringSplitOptions.RemoveEmptyEntries).Select(Severity).ToArray());
    }

    // tshark prints booleans as 1/0 or True/False depending on its version.
    static bool Flag(string value) => value is "1" or "True" or "true";

    static long Severity(string value) =>
        value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? Convert.ToInt64(value[2..], 16) : long.Parse(value);
}
