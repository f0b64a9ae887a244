using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.NetworkInformation;
using NginxHa.Core.Resources;
using NginxHa.Integration.Tests.Support;
using PacketDotNet;
using PacketDotNet.Ndp;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Vrrp.Interop;

/// <summary>
/// VRRPv3 over IPv6 against Debian's keepalived 2.2.7, both ways (issue 12, section 5): election, preemption, crash and
/// clean stop, with the client namespace as the judge. It reaches the VIP over TCP (so its neighbour cache must follow
/// the VIP to the new master's MAC) and records every frame it sees: adverts, to count them, and the new master's
/// unsolicited Neighbor Advertisements, whose fields are checked here and by tshark. Both sides list the virtual
/// router's link-local address first (RFC 5798 section 5.2.9): keepalived from its config, ours added by the agent.
/// The lab's namespaces run with accept_dad=0 and the agent binds VIPs with IFA_F_NODAD: with DAD, a VIP taken over
/// while a crashed master still holds it would stay tentative (then dadfailed) on the new master and never be served.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class KeepalivedIPv6InteropTests : IDisposable
{
    const int Vrid = 52;
    static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    // Process start-up, the NAs and the client's 10 ms probe cadence on a shared 2-core machine (as the IPv4 tests).
    static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(400);
    static readonly IPAddress Vip = IPAddress.Parse("fd00::100");
    static readonly IPAddress LinkLocal = VirtualRouterLinkLocal.For(Vrid);
    // Adverts that must reach the client while the backup stays BACKUP: 2 s at 100 ms, over five Master_Down_Intervals.
    const int AdvertsWhileElected = 20;

    readonly VrrpInteropLab _lab = new("k6");
    readonly ITestOutputHelper _output;
    // Recording from the start, so every advert and NA of the test is on record when it is asked for.
    readonly FrameRecorder _client;

    public KeepalivedIPv6InteropTests(ITestOutputHelper output)
    {
        _output = output;
        try
        {
            _client = new FrameRecorder(_lab.Client);
        }
        catch
        {
            _lab.Dispose();
            throw;
        }
    }

    static TimeSpan MasterDown(int priority) => 3 * Interval + Skew(priority);
    static TimeSpan Skew(int priority) => Interval * (256 - priority) / 256;

    static KeepalivedInstance Keepalived(int priority) =>
        new("eth0", Vrid, priority, [$"{LinkLocal}/64", "fd00::100/64"], 3, Interval);

    static string[] Ours(int priority) =>
        ["--vrid", Vrid.ToString(), "--priority", priority.ToString(), "--vip", "fd00::100/64", "--advert-interval", "100ms"];

    [Fact]
    public async Task Keepalived_master_ours_backup_then_keepalived_crashes_and_the_client_follows_the_vip_to_ours()
    {
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(150));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        var ours = _lab.StartAgent(_lab.Router1, Ours(100));
        var backupAt = await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(10));

        await AssertElectedAsync(master: _lab.Router0, backup: _lab.Router1, since: backupAt);
        Assert.False(ours.EnteredSince("MASTER", DateTimeOffset.MinValue), ours.Process.Output);
        Assert.DoesNotContain(ours.Process.Lines, l => l.Contains("dropped"));
        Assert.Equal("n0", await _lab.ReadBannerAsync(Vip));

        long fault = Stopwatch.GetTimestamp();
        keepalived.Crash(); // the VIP stays bound on n0, which answers for it until the client's cache moves
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(5), Vip);
        _output.WriteLine($"served by the backup {served.TotalMilliseconds:F0} ms after the crash ({_lab.LastProbeHistory})");
        Assert.True(served <= MasterDown(100) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");

        await AssertNeighborAdvertisementsAsync(_lab.Router1, fault);
    }

    [Fact]
    public async Task Ours_master_keepalived_backup_then_ours_crashes_and_keepalived_serves()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(150));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(100));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        var backupAt = DateTimeOffset.UtcNow;

        await AssertElectedAsync(master: _lab.Router0, backup: _lab.Router1, since: backupAt);
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("Entering MASTER STATE"));
        AssertKeepalivedTookOurAdverts(keepalived);
        Assert.Equal("n0", await _lab.ReadBannerAsync(Vip));

        long fault = Stopwatch.GetTimestamp();
        ours.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(5), Vip);
        _output.WriteLine($"served by the backup {served.TotalMilliseconds:F0} ms after the crash ({_lab.LastProbeHistory})");
        Assert.True(served <= MasterDown(100) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
    }

    [Fact]
    public async Task Ours_with_a_higher_priority_preempts_keepalived_and_a_clean_stop_hands_back_after_skew_time()
    {
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(100));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("n0", await _lab.ReadBannerAsync(Vip));

        long joined = Stopwatch.GetTimestamp();
        var joinedAt = DateTimeOffset.UtcNow;
        var ours = _lab.StartAgent(_lab.Router1, Ours(150));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(5), after: joinedAt);
        await _lab.WaitUntilServedByAsync(_lab.Router1, joined, TimeSpan.FromSeconds(5), Vip);
        await AssertNeighborAdvertisementsAsync(_lab.Router1, joined);
        AssertKeepalivedTookOurAdverts(keepalived);

        long stop = Stopwatch.GetTimestamp();
        var stopped = ours.StopAsync();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router0, stop, TimeSpan.FromSeconds(5), Vip);
        Assert.Equal(0, await stopped);
        _output.WriteLine($"served by the backup {served.TotalMilliseconds:F0} ms after the clean stop ({_lab.LastProbeHistory})");
        Assert.True(served <= Skew(100) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        // The client's timing cannot tell Skew_Time (61 ms) from Master_Down_Interval (361 ms) within the tolerance; the
        // priority-0 advert keepalived reports can.
        Assert.Contains(keepalived.Process.Lines, l => l.Contains("Backup received priority 0 advertisement"));
        Assert.False(VrrpInteropLab.HoldsVip(_lab.Router1, Vip));
    }

    [Fact]
    public async Task Keepalived_with_a_higher_priority_preempts_ours_and_its_clean_stop_hands_back_after_skew_time()
    {
        var ours = _lab.StartAgent(_lab.Router1, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        Assert.Equal("n1", await _lab.ReadBannerAsync(Vip));

        long joined = Stopwatch.GetTimestamp();
        var joinedAt = DateTimeOffset.UtcNow;
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(150));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(5), after: joinedAt);
        await _lab.WaitUntilServedByAsync(_lab.Router0, joined, TimeSpan.FromSeconds(5), Vip);
        await Eventually.Until(() => VrrpInteropLab.HoldsVip(_lab.Router1, Vip), held => !held, TimeSpan.FromSeconds(2),
            "ours removes the VIP after losing MASTER");
        Assert.DoesNotContain(ours.Process.Lines, l => l.Contains("dropped"));

        long stop = Stopwatch.GetTimestamp();
        var stopped = keepalived.StopAsync();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, stop, TimeSpan.FromSeconds(5), Vip);
        Assert.Equal(0, await stopped);
        _output.WriteLine($"served by the backup {served.TotalMilliseconds:F0} ms after the clean stop ({_lab.LastProbeHistory})");
        Assert.True(served <= Skew(100) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        Assert.Contains(ours.Process.Lines, l => l.Contains("BACKUP -> MASTER (the master resigned with priority 0; Skew_Time expired)"));
        await AssertNeighborAdvertisementsAsync(_lab.Router1, stop);
    }

    /// <summary>
    /// The master's adverts keep reaching the client and the backup sends none: counted on the wire, not waited out.
    /// </summary>
    async Task AssertElectedAsync(LabNode master, LabNode backup, DateTimeOffset since)
    {
        var adverts = await _client.WaitForAsync(f => f.WallClock >= since && IsAdvertFrom(f.Bytes, master.Mac), AdvertsWhileElected,
            TimeSpan.FromSeconds(10), $"adverts from {VrrpInteropLab.NameOf(master)}");
        Assert.Empty(_client.Where(f => IsAdvertFrom(f.Bytes, backup.Mac) && f.Timestamp <= adverts[^1].Timestamp));
        var advert = ((EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, adverts[^1].Bytes)).Extract<IPv6Packet>();
        Assert.True(advert.SourceAddress.IsIPv6LinkLocal, $"advert from {advert.SourceAddress}");
        Assert.Equal(IPAddress.Parse("ff02::12"), advert.DestinationAddress);
        Assert.Equal(255, advert.HopLimit);
        // RFC 5798 section 5.2.9: count 2, the link-local address first.
        var vrrp = advert.PayloadData;
        Assert.Equal((byte)0x31, vrrp[0]);
        Assert.Equal(2, vrrp[3]);
        Assert.Equal(LinkLocal, new IPAddress(vrrp.AsSpan(8, 16)));
        Assert.Equal(Vip, new IPAddress(vrrp.AsSpan(24, 16)));
    }

    /// <summary>
    /// Unsolicited NAs (RFC 4861 section 7.2.6) from the new master after <paramref name="since"/>, for both addresses:
    /// at least five per address (the agent's default repeat; a lower-priority advert heard while MASTER, as when ours
    /// preempts, brings another round), each checked here and by tshark.
    /// </summary>
    async Task AssertNeighborAdvertisementsAsync(LabNode master, long since)
    {
        foreach (var target in new[] { Vip, LinkLocal })
        {
            var frames = await _client.WaitForAsync(f => f.Timestamp >= since && IsNeighborAdvertisement(f.Bytes, master.Mac, target), 5,
                TimeSpan.FromSeconds(5), $"NAs for {target} from {VrrpInteropLab.NameOf(master)}");
            _output.WriteLine($"{frames.Count} NAs for {target} from {VrrpInteropLab.NameOf(master)}, the first " +
                              $"{Stopwatch.GetElapsedTime(since, frames[0].Timestamp).TotalMilliseconds:F0} ms after the event");
            foreach (var frame in frames)
            {
                var ethernet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame.Bytes);
                var ipv6 = ethernet.Extract<IPv6Packet>();
                var icmp = ethernet.Extract<IcmpV6Packet>();
                var na = ethernet.Extract<NdpNeighborAdvertisementPacket>();
                Assert.Equal(PhysicalAddress.Parse("33-33-00-00-00-01"), ethernet.DestinationHardwareAddress);
                Assert.Equal(IPAddress.Parse("ff02::1"), ipv6.DestinationAddress);
                Assert.Equal(255, ipv6.HopLimit);
                Assert.True(icmp.ValidIcmpChecksum, "ICMPv6 checksum");
                Assert.Equal(target, na.TargetAddress);
                Assert.True(na.Override, "override flag");
                Assert.False(na.Solicited, "solicited flag");
                var option = Assert.Single(na.OptionsCollection.OfType<NdpLinkLayerAddressOption>());
                Assert.Equal(2, frame.Bytes[NaTargetOffset + 16]); // option type 2: Target Link-Layer Address
                Assert.Equal(master.Mac, option.LinkLayerAddress);
            }
            var rows = NeighborAdvertisementDissector.Dissect(frames.Select(f => (f.WallClock, f.Bytes)).ToList());
            Assert.Equal(frames.Count, rows.Count);
            foreach (var row in rows)
            {
                Assert.True(row.Clean && row.Type == "136" && row.Override && !row.Solicited, row.Raw);
                Assert.True(row.Target == target.ToString() && row.LinkAddress == Convert.ToHexString(master.Mac.GetAddressBytes()).ToLowerInvariant(), row.Raw);
            }
        }
    }

    /// <summary>keepalived logs each advert whose address list differs from its own (count or address).</summary>
    static void AssertKeepalivedTookOurAdverts(KeepalivedProcess keepalived) =>
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("unexpected ip number count") || l.Contains("not present in MASTER advert")
                                                             || l.Contains("expected") && l.Contains("VIPs but received"));

    const int EthernetTypeOffset = 12;
    const int NextHeaderOffset = 14 + 6;
    const int IcmpTypeOffset = 14 + 40;
    const int NaTargetOffset = IcmpTypeOffset + 8;

    static bool FromMac(byte[] frame, PhysicalAddress mac) => frame.AsSpan(6, 6).SequenceEqual(mac.GetAddressBytes());

    static bool IsIPv6(byte[] frame, byte nextHeader) =>
        frame.Length > IcmpTypeOffset && BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(EthernetTypeOffset)) == 0x86dd
                                      && frame[NextHeaderOffset] == nextHeader;

    static bool IsAdvertFrom(byte[] frame, PhysicalAddress mac) => IsIPv6(frame, 112) && FromMac(frame, mac);

    static bool IsNeighborAdvertisement(byte[] frame, PhysicalAddress mac, IPAddress target) =>
        IsIPv6(frame, 58) && frame.Length >= NaTargetOffset + 16 && frame[IcmpTypeOffset] == 136 && FromMac(frame, mac)
        && new IPAddress(frame.AsSpan(NaTargetOffset, 16)).Equals(target);

    public void Dispose()
    {
        _client.Dispose();
        _lab.Dispose();
    }
}
