using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Runtime.Versioning;
using System.Text;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.Integration.Tests.Vrrp;

/// <summary>
/// Adverts from a real keepalived 2.2.7 (v2 with PASS, v3 over IPv4, v3 over IPv6) captured on a veth
/// pair inside a namespace this test creates, then fed to our decoder and receive validator.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class KeepalivedAdvertDecodeTests : IDisposable
{
    private const string SendInterface = "pkv0";
    private const string CaptureInterface = "pkv1";

    private static readonly VrrpReceiveRules V2Rules = new(VrrpVersion.V2, 51, [IPAddress.Parse("198.18.1.8")],
        TimeSpan.FromSeconds(1), VrrpAuthType.SimpleText, VrrpSimplePassword.ToAuthData("1111"));
    private static readonly VrrpReceiveRules V3Ipv4Rules = new(VrrpVersion.V3, 52,
        [IPAddress.Parse("198.18.1.20"), IPAddress.Parse("198.18.1.21"), IPAddress.Parse("198.18.1.22")],
        TimeSpan.FromSeconds(1), VrrpAuthType.None, default);
    // The virtual router's link-local address first (RFC 5798 section 5.2.9), as the agent plans it for VRID 53.
    private static readonly VrrpReceiveRules V3Ipv6Rules = new(VrrpVersion.V3, 53,
        [NginxHa.Core.Resources.VirtualRouterLinkLocal.For(53), IPAddress.Parse("fd00:1::53")],
        TimeSpan.FromSeconds(1), VrrpAuthType.None, default);

    private readonly string _namespace = $"pk-ka-{Environment.ProcessId}-{Random.Shared.Next(100_000)}";
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("pk-keepalived-");
    private readonly List<Process> _processes = [];
    private bool _namespaceCreated;

    [Fact]
    public async Task OurDecoderAcceptsKeepalivedAdverts()
    {
        string keepalived = RequiredTool.Locate("keepalived", "keepalived");
        string tshark = RequiredTool.Locate("tshark", "tshark");
        string ip = RequiredTool.Locate("ip", "iproute2");
        CreateIsolatedLink(ip);

        string config = Path.Combine(_directory.FullName, "keepalived.conf");
        // Holds auth_pass: owner-only from creation on.
        var ownerOnly = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite };
        await using (var writer = new StreamWriter(config, ownerOnly))
        {
            await writer.WriteAsync(KeepalivedConfig);
        }

        // Enough adverts to see every instance at least twice once they are MASTER.
        string pcap = Path.Combine(_directory.FullName, "adverts.pcap");
        var captureReady = new TaskCompletionSource();
        Process capture = Start(ip, ["netns", "exec", _namespace, tshark, "-i", CaptureInterface, "-n", "-F", "pcap", "-w", pcap,
            "-f", "ip proto 112 or ip6 proto 112", "-c", "9", "-a", "duration:40"],
            line => { if (line.Contains("Capturing on", StringComparison.Ordinal)) captureReady.TrySetResult(); });
        await captureReady.Task.WaitAsync(TimeSpan.FromSeconds(30));

        Process daemon = Start(ip, ["netns", "exec", _namespace, keepalived, "--vrrp", "--dont-fork", "--log-console", "--no-syslog",
            "--use-file", config, "--pid", Path.Combine(_directory.FullName, "keepalived.pid"),
            "--vrrp_pid", Path.Combine(_directory.FullName, "vrrp.pid")], _ => { });

        await capture.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        Assert.False(daemon.HasExited, "keepalived exited early");

        (uint linkType, List<byte[]> frames) = PcapReader.Read(File.ReadAllBytes(pcap));
        Assert.Equal(PcapWriter.LinkTypeEthernet, linkType);
        Assert.Equal(9, frames.Count);

        var decodedByVrid = new Dictionary<byte, List<VrrpAdvertisement>>();
        foreach (byte[] frame in frames)
        {
            IpPacket packet = IpPacket.FromEthernet(frame);
            VrrpDropReason structure = VrrpPacket.TryRead(packet.Payload, packet.Source, packet.Destination, out VrrpAdvertisement? advert);
            Assert.True(structure == VrrpDropReason.Ok, $"{structure} ({structure.Describe()}) for {Convert.ToHexString(frame)}");

            VrrpReceiveRules rules = advert!.VirtualRouterId switch { 51 => V2Rules, 52 => V3Ipv4Rules, _ => V3Ipv6Rules };
            VrrpDropReason validation = VrrpReceiveValidator.Validate(advert, packet.TtlOrHopLimit, rules);
            Assert.True(validation == VrrpDropReason.Ok, $"{validation} ({validation.Describe()}) for {Convert.ToHexString(frame)}");

            if (!decodedByVrid.TryGetValue(advert.VirtualRouterId, out List<VrrpAdvertisement>? list))
            {
                decodedByVrid[advert.VirtualRouterId] = list = [];
            }
            list.Add(advert);
        }

        Assert.Equal([51, 52, 53], decodedByVrid.Keys.Order().Select(k => (int)k));
        VrrpAdvertisement v2 = decodedByVrid[51][0];
        Assert.Equal((VrrpVersion.V2, (byte)100, VrrpAuthType.SimpleText), (v2.Version, v2.Priority, v2.AuthType));
        VrrpAdvertisement v3 = decodedByVrid[52][0];
        Assert.Equal((VrrpVersion.V3, (byte)150, TimeSpan.FromSeconds(1)), (v3.Version, v3.Priority, v3.AdvertInterval));
        Assert.Equal(V3Ipv4Rules.VirtualAddresses, v3.Addresses); // keepalived sends them in config order
        VrrpAdvertisement v6 = decodedByVrid[53][0];
        Assert.Equal((VrrpVersion.V3, (byte)200), (v6.Version, v6.Priority));
        Assert.Equal(V3Ipv6Rules.VirtualAddresses, v6.Addresses);

        // Same bytes, another configured password: the check must be able to fail.
        byte[] firstV2 = frames.First(f => IpPacket.FromEthernet(f).Payload[1] == 51);
        IpPacket v2Packet = IpPacket.FromEthernet(firstV2);
        VrrpPacket.TryRead(v2Packet.Payload, v2Packet.Source, v2Packet.Destination, out VrrpAdvertisement? again);
        Assert.Equal(VrrpDropReason.AuthenticationFailed,
            VrrpReceiveValidator.Validate(again!, v2Packet.TtlOrHopLimit, V2Rules with { AuthData = VrrpSimplePassword.ToAuthData("2222") }));
    }

    private static string KeepalivedConfig => $$"""
        global_defs {
            router_id pk_decode
        }
        vrrp_instance PK_V2 {
            state MASTER
            interface {{SendInterface}}
            virtual_router_id 51
            priority 100
            advert_int 1
            version 2
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            virtual_ipaddress {
                198.18.1.8/24
            }
        }
        vrrp_instance PK_V3_4 {
            state MASTER
            interface {{SendInterface}}
            virtual_router_id 52
            priority 150
            advert_int 1
            version 3
            virtual_ipaddress {
                198.18.1.20/24
                198.18.1.21/24
                198.18.1.22/24
            }
        }
        vrrp_instance PK_V3_6 {
            state MASTER
            interface {{SendInterface}}
            virtual_router_id 53
            priority 200
            advert_int 1
            version 3
            virtual_ipaddress {
                fe80::200:5eff:fe00:235/64
                fd00:1::53/64
            }
        }
        """;

    private void CreateIsolatedLink(string ip)
    {
        Run(ip, "netns", "add", _namespace);
        _namespaceCreated = true;
        // No DAD, so the link-local source address keepalived needs for IPv6 exists at once.
        Run(ip, "netns", "exec", _namespace, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0");
        // Both ends live inside the namespace: nothing links to the host, and there is no route out.
        Run(ip, "-n", _namespace, "link", "add", SendInterface, "type", "veth", "peer", "name", CaptureInterface);
        Run(ip, "-n", _namespace, "addr", "add", "198.18.1.1/24", "dev", SendInterface);
        Run(ip, "-n", _namespace, "addr", "add", "fd00:1::1/64", "dev", SendInterface, "nodad");
        Run(ip, "-n", _namespace, "link", "set", "lo", "up");
        Run(ip, "-n", _namespace, "link", "set", SendInterface, "up");
        Run(ip, "-n", _namespace, "link", "set", CaptureInterface, "up");
    }

    private static void Run(string path, params string[] arguments)
    {
        (int exitCode, _, string error) = RequiredTool.Run(path, arguments, TimeSpan.FromSeconds(30));
        Assert.True(exitCode == 0, $"{path} {string.Join(' ', arguments)} exited {exitCode}: {error}");
    }

    private Process Start(string path, IEnumerable<string> arguments, Action<string> onLine)
    {
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        var output = new StringBuilder();
        var process = new Process { StartInfo = info };
        DataReceivedEventHandler handler = (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            onLine(e.Data);
        };
        process.OutputDataReceived += handler;
        process.ErrorDataReceived += handler;
        process.Start();
        _processes.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public void Dispose()
    {
        // `ip netns exec` execs in place, so each PID is the tool itself; ended by its own handle.
        foreach (Process process in Enumerable.Reverse(_processes))
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            process.Dispose();
        }
        if (_namespaceCreated)
        {
            // Deleting the namespace also removes the veth pair inside it.
            RequiredTool.Run("ip", ["netns", "del", _namespace], TimeSpan.FromSeconds(30));
        }
        _directory.Delete(recursive: true);
    }

    /// <summary>The IP fields the socket layer would hand to the decoder, parsed from an Ethernet frame.</summary>
    private sealed record IpPacket(IPAddress Source, IPAddress Destination, int TtlOrHopLimit, byte[] Payload)
    {
        public static IpPacket FromEthernet(byte[] frame)
        {
            const int ethernetHeader = 14;
            ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));
            ReadOnlySpan<byte> ip = frame.AsSpan(ethernetHeader);
            if (etherType == 0x0800)
            {
                int headerLength = (ip[0] & 0x0F) * 4;
                int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
                Assert.Equal(VrrpPacket.IpProtocolNumber, ip[9]);
                return new IpPacket(new IPAddress(ip[12..16]), new IPAddress(ip[16..20]), ip[8], ip[headerLength..totalLength].ToArray());
            }
            Assert.Equal(0x86DD, etherType);
            const int ipv6Header = 40;
            int payloadLength = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
            Assert.Equal(VrrpPacket.IpProtocolNumber, ip[6]);
            return new IpPacket(new IPAddress(ip[8..24]), new IPAddress(ip[24..40]), ip[7], ip[ipv6Header..(ipv6Header + payloadLength)].ToArray());
        }
    }
}
