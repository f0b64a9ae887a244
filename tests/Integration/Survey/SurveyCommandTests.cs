using System.Net;
using System.Runtime.Versioning;
using System.Text.Json;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.Integration.Tests.Survey;

/// <summary>
/// <c>nginx-ha-agent survey</c> as a user runs it: listening with libpcap in a namespace where real keepalived
/// instances advertise, and reading a capture file this test writes (a VRID clash: different VIPs and two masters).
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class SurveyCommandTests
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task SurveyListsRealKeepalivedRoutersWithVersionPriorityIntervalVipsAndAuthType()
    {
        RequiredTool.Locate("keepalived", "keepalived");
        using var lab = NetworkLab.Create("svy", 3);
        var (v2Node, v6Node, listener) = (lab.Nodes[0], lab.Nodes[1], lab.Nodes[2]);
        using var v2 = new KeepalivedProcess(v2Node.Namespace, new KeepalivedInstance(NetworkLab.InterfaceName, 71, 120,
            ["198.18.0.71/24"], Version: 2, AuthPass: "svy-pw1"), "keepalived-v2");
        using var v6 = new KeepalivedProcess(v6Node.Namespace, new KeepalivedInstance(NetworkLab.InterfaceName, 72, 150,
            ["fd00::72/64"], Version: 3, AdvertInterval: TimeSpan.FromMilliseconds(100)), "keepalived-v6");
        await Task.WhenAll(v2.WaitForMasterAsync(Timeout), v6.WaitForMasterAsync(Timeout));

        var result = Survey(listener, "--interface", NetworkLab.InterfaceName, "--seconds", "3", "--json");

        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.StandardError}\n{result.StandardOutput}");
        Assert.DoesNotContain("svy-pw1", result.StandardOutput);
        using var doc = JsonDocument.Parse(result.StandardOutput);
        var routers = doc.RootElement.GetProperty("routers").EnumerateArray().ToList();
        Assert.Equal([("IPv4", 71), ("IPv6", 72)], routers.Select(r => (r.GetProperty("family").GetString(), r.GetProperty("vrid").GetInt32())));

        var ipv4 = routers[0].GetProperty("speakers").EnumerateArray().Single();
        Assert.Equal((v2Node.IPv4.ToString(), 2, 120, 1.0, "PASS"),
            (ipv4.GetProperty("source").GetString(), ipv4.GetProperty("version").GetInt32(), ipv4.GetProperty("priority").GetInt32(),
             ipv4.GetProperty("advertIntervalSeconds").GetDouble(), ipv4.GetProperty("authentication").GetString()));
        Assert.Equal(["198.18.0.71"], ipv4.GetProperty("virtualAddresses").EnumerateArray().Select(a => a.GetString()));
        Assert.InRange(ipv4.GetProperty("adverts").GetInt32(), 2, 4);

        var ipv6 = routers[1].GetProperty("speakers").EnumerateArray().Single();
        Assert.True(IPAddress.Parse(ipv6.GetProperty("source").GetString()!).IsIPv6LinkLocal, "VRRPv3 over IPv6 is sent from the link-local address");
        Assert.Equal((3, 150, 0.1, "none"),
            (ipv6.GetProperty("version").GetInt32(), ipv6.GetProperty("priority").GetInt32(),
             ipv6.GetProperty("advertIntervalSeconds").GetDouble(), ipv6.GetProperty("authentication").GetString()));
        Assert.Equal(["fd00::72"], ipv6.GetProperty("virtualAddresses").EnumerateArray().Select(a => a.GetString()));
        Assert.True(ipv6.GetProperty("adverts").GetInt32() >= 15, "100 ms adverts for 3 s");
        Assert.All(routers, r => Assert.Empty(r.GetProperty("conflicts").EnumerateArray()));

        var text = Survey(listener, "--interface", NetworkLab.InterfaceName, "--seconds", "1.5");
        Assert.Equal(0, text.ExitCode);
        Assert.Matches(@"IPv4\s+71\s+v2\s+198\.18\.0\.1\s+120\s+1s\s+PASS\s+\d+\s+198\.18\.0\.71", text.StandardOutput);
    }

    [Fact]
    public void SurveyReadsACaptureFileTheTestWroteAndReportsAVridClash()
    {
        using var directory = new TemporaryDirectory();
        var pcap = Path.Combine(directory.Path, "clash.pcap");
        IPAddress a = IPAddress.Parse("198.18.9.1"), b = IPAddress.Parse("198.18.9.2");
        var start = new DateTimeOffset(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);
        using (var file = File.Create(pcap))
        using (var writer = new PcapWriter(file))
        {
            // Two routers on VRID 80 with different VIPs, both advertising once a second for 5 s: two masters.
            for (int i = 0; i < 5; i++)
            {
                writer.WritePacket(start.AddSeconds(i), Advert(a, 80, 100, "198.18.9.80"));
                writer.WritePacket(start.AddSeconds(i + 0.5), Advert(b, 80, 100, "198.18.9.81"));
                writer.WritePacket(start.AddSeconds(i + 0.2), Advert(a, 81, 100, "198.18.9.82")); // a quiet neighbour
            }
        }

        var result = Command.TryRun(Timeout, [.. AgentProcess.AgentCommand(), "survey", "--file", pcap, "--json"]);

        Assert.True(result.ExitCode == 3, $"exit {result.ExitCode} (3: a conflict): {result.StandardError}\n{result.StandardOutput}");
        using var doc = JsonDocument.Parse(result.StandardOutput);
        Assert.Equal(15, doc.RootElement.GetProperty("frames").GetInt32());
        var routers = doc.RootElement.GetProperty("routers").EnumerateArray().ToDictionary(r => r.GetProperty("vrid").GetInt32());
        Assert.Equal(["DifferentAddresses", "TwoMasters"],
            routers[80].GetProperty("conflicts").EnumerateArray().Select(c => c.GetProperty("kind").GetString()));
        Assert.Equal(["198.18.9.1", "198.18.9.2"], routers[80].GetProperty("speakers").EnumerateArray().Select(s => s.GetProperty("source").GetString()));
        Assert.Empty(routers[81].GetProperty("conflicts").EnumerateArray());

        var text = Command.TryRun(Timeout, [.. AgentProcess.AgentCommand(), "survey", "--file", pcap]);
        Assert.Equal(3, text.ExitCode);
        Assert.Contains("CONFLICT IPv4 VRID 80: same VRID, different VIPs", text.StandardOutput);
        Assert.Contains("CONFLICT IPv4 VRID 80: two masters", text.StandardOutput);
    }

    [Fact]
    public void SurveyNamesAnUnknownInterface()
    {
        using var lab = NetworkLab.Create("svz", 1);
        var result = Survey(lab.Nodes[0], "--interface", "nosuch0", "--seconds", "1");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--interface nosuch0: no such interface", result.StandardError);
    }

    static CommandResult Survey(LabNode node, params string[] arguments) =>
        Command.TryRun(Timeout, ["ip", "netns", "exec", node.Namespace, .. AgentProcess.AgentCommand(), "survey", .. arguments]);

    static byte[] Advert(IPAddress source, byte vrid, byte priority, string vip)
    {
        var advert = new VrrpAdvertisement(VrrpVersion.V3, vrid, priority, TimeSpan.FromSeconds(1), [IPAddress.Parse(vip)]);
        var vrrp = new byte[VrrpPacket.GetEncodedLength(advert)];
        VrrpPacket.Write(vrrp, advert, source, VrrpPacket.IPv4MulticastGroup);
        return EthernetFrames.IPv4([0x02, 0, 0, 0, 0, source.GetAddressBytes()[3]], EthernetFrames.IPv4MulticastMac(VrrpPacket.IPv4MulticastGroup),
            source, VrrpPacket.IPv4MulticastGroup, VrrpPacket.IpProtocolNumber, VrrpPacket.RequiredTtl, 0xC0, 0, vrrp);
    }

    sealed class TemporaryDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("nginx-ha-survey-").FullName;
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
