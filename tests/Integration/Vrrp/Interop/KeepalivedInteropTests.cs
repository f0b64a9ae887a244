using System.Diagnostics;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Vrrp.Interop;

/// <summary>Timing-sensitive tests run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FailoverTimingCollection
{
    public const string Name = "failover timing";
}

/// <summary>
/// Our speaker against Debian's keepalived 2.2.7 on one bridge, in both roles (issue 2, section 6).
/// Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time, Skew_Time = (256 - Priority) / 256 * interval.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class KeepalivedInteropTests : IDisposable
{
    static readonly TimeSpan Second = TimeSpan.FromSeconds(1);
    // Process start-up, GARP and the client's 10 ms probe cadence on a shared 2-core machine.
    static readonly TimeSpan Tolerance = TimeSpan.FromMilliseconds(400);

    readonly VrrpInteropLab _lab;
    // Every advert on the bridge, seen from the client: what "stays BACKUP" is bound to, and how take-overs are timed.
    readonly VrrpWire _wire;

    public KeepalivedInteropTests()
    {
        _lab = new VrrpInteropLab("ka");
        _wire = new VrrpWire(_lab.Client, 51);
    }

    static TimeSpan MasterDown(TimeSpan interval, int priority) => 3 * interval + SkewTime(interval, priority);

    static TimeSpan SkewTime(TimeSpan interval, int priority) => interval * (256 - priority) / 256;

    static KeepalivedInstance Keepalived(int priority, int version = 3, TimeSpan? interval = null, string? pass = null, bool preempt = true) =>
        new("eth0", 51, priority, [VrrpInteropLab.VipWithPrefix], version, interval ?? Second, pass, preempt);

    static string[] Ours(int priority, params string[] more) =>
        ["--vrid", "51", "--priority", priority.ToString(), "--vip", VrrpInteropLab.VipWithPrefix, .. more];

    /// <summary>
    /// Nobody takes over from <paramref name="master"/>: while its adverts span the Master_Down_Interval of the
    /// router at <paramref name="other"/> with two intervals to spare, that router sends no advert of its own, and
    /// <paramref name="agent"/> (ours, either role) never logs <paramref name="forbiddenState"/>.
    /// </summary>
    async Task AssertNoTakeOverAsync(LabNode master, LabNode other, TimeSpan interval, TimeSpan otherMasterDown,
        AgentProcess? agent = null, string forbiddenState = "")
    {
        var sinceUtc = DateTimeOffset.UtcNow;
        long since = Stopwatch.GetTimestamp();
        int adverts = (int)Math.Ceiling(otherMasterDown / interval) + 3;
        await _wire.WaitForAdvertsAsync(master.IPv4, adverts, since, adverts * interval + TimeSpan.FromSeconds(10));
        Assert.Empty(_wire.From(other.IPv4, since));
        if (agent is not null)
            Assert.False(agent.EnteredSince(forbiddenState, sinceUtc), $"the agent entered {forbiddenState}:\n{agent.Process.Output}");
    }

    /// <summary>
    /// Which timer a take-over waited for, off the wire: from <paramref name="from"/>'s last advert before
    /// <paramref name="fault"/> (priority 0 for a hand-over) to <paramref name="to"/>'s first advert after it. The
    /// bounds lie half-way between Skew_Time and Master_Down_Interval, so one can never pass for the other.
    /// </summary>
    async Task<TimeSpan> TakeOverGapAsync(LabNode from, LabNode to, long fault, TimeSpan timeout)
    {
        var first = await _wire.FirstAsync(to.IPv4, fault, timeout);
        var last = _wire.From(from.IPv4).Last(a => a.At < first.At);
        return VrrpWire.Between(last.At, first.At);
    }

    static async Task AssertWaitedMasterDownAsync(TimeSpan gap, TimeSpan interval, int priority, AgentProcess? ours = null)
    {
        var midway = (SkewTime(interval, priority) + MasterDown(interval, priority)) / 2;
        Assert.True(gap >= midway, $"took over {gap.TotalMilliseconds:F1} ms after the last advert: Skew_Time " +
            $"({SkewTime(interval, priority).TotalMilliseconds:F1} ms), not Master_Down_Interval ({MasterDown(interval, priority).TotalMilliseconds:F1} ms)");
        // Our own account of the timer; the client may be served before the agent's line is read from its output.
        if (ours is not null)
            await ours.Process.WaitForLineAsync(l => l.Contains("BACKUP -> MASTER (master down timer expired)"), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Keepalived_master_ours_backup_then_keepalived_crashes_and_ours_serves_within_master_down_interval()
    {
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(100));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        var ours = _lab.StartAgent(_lab.Router1, Ours(99));
        await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(10));
        await AssertNoTakeOverAsync(_lab.Router0, _lab.Router1, Second, MasterDown(Second, 99), ours, "MASTER");
        Assert.Equal("n0", await _lab.ReadBannerAsync());

        long fault = Stopwatch.GetTimestamp();
        keepalived.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));

        Assert.True(served <= MasterDown(Second, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        Assert.True(VrrpInteropLab.HoldsVip(_lab.Router1));
        await AssertWaitedMasterDownAsync(await TakeOverGapAsync(_lab.Router0, _lab.Router1, fault, TimeSpan.FromSeconds(5)), Second, 99, ours);
    }

    [Fact]
    public async Task Ours_master_keepalived_backup_then_ours_crashes_and_keepalived_serves()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(99));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await AssertNoTakeOverAsync(_lab.Router0, _lab.Router1, Second, MasterDown(Second, 99));
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("Entering MASTER STATE"));
        Assert.Equal("n0", await _lab.ReadBannerAsync());

        long fault = Stopwatch.GetTimestamp();
        ours.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));
        Assert.True(served <= MasterDown(Second, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        await AssertWaitedMasterDownAsync(await TakeOverGapAsync(_lab.Router0, _lab.Router1, fault, TimeSpan.FromSeconds(5)), Second, 99);
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("priority 0"));
    }

    [Fact]
    public async Task Keepalived_coming_back_with_a_higher_priority_preempts_ours()
    {
        var ours = _lab.StartAgent(_lab.Router1, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        Assert.Equal("n1", await _lab.ReadBannerAsync());

        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(150));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(5));
        await _lab.WaitUntilServedByAsync(_lab.Router0, Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(5));
        await Eventually.Until(() => VrrpInteropLab.HoldsVip(_lab.Router1), held => !held, TimeSpan.FromSeconds(2), "ours removes the VIP after losing MASTER");
    }

    [Fact]
    public async Task With_preemption_off_a_returning_higher_priority_keepalived_leaves_ours_master()
    {
        var ours = _lab.StartAgent(_lab.Router1, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));

        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(150, preempt: false));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await AssertNoTakeOverAsync(_lab.Router1, _lab.Router0, Second, MasterDown(Second, 150), ours, "BACKUP");
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("Entering MASTER STATE"));
        Assert.Equal("n1", await _lab.ReadBannerAsync());
    }

    [Fact]
    public async Task Vrrp_v2_with_pass_authentication_keepalived_master_ours_backup()
    {
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(100, version: 2, pass: "s3cret"));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        var ours = _lab.StartAgent(_lab.Router1, Ours(99, "--version", "2", "--auth-pass-file", _lab.WriteSecretFile("s3cret")));
        await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(10));
        await AssertNoTakeOverAsync(_lab.Router0, _lab.Router1, Second, MasterDown(Second, 99), ours, "MASTER");
        Assert.DoesNotContain(ours.Process.Lines, l => l.Contains("dropped"));

        long fault = Stopwatch.GetTimestamp();
        keepalived.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));
        Assert.True(served <= MasterDown(Second, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        await AssertWaitedMasterDownAsync(await TakeOverGapAsync(_lab.Router0, _lab.Router1, fault, TimeSpan.FromSeconds(5)), Second, 99, ours);
    }

    [Fact]
    public async Task Vrrp_v2_with_pass_authentication_ours_master_keepalived_backup()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100, "--version", "2", "--auth-pass-file", _lab.WriteSecretFile("s3cret")));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(99, version: 2, pass: "s3cret"));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await AssertNoTakeOverAsync(_lab.Router0, _lab.Router1, Second, MasterDown(Second, 99));
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("Entering MASTER STATE"));
        Assert.Equal("n0", await _lab.ReadBannerAsync());
    }

    [Fact]
    public async Task A_wrong_password_is_dropped_and_counted_and_changes_nothing()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100, "--version", "2", "--auth-pass-file", _lab.WriteSecretFile("right")));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        // A higher-priority keepalived with another password: were its adverts accepted, ours would step down.
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(200, version: 2, pass: "wrong"));
        await ours.Process.WaitForLineAsync(l => l.Contains("dropped an advertisement from 198.18.0.2") && l.Contains("AuthenticationFailed"), TimeSpan.FromSeconds(10));
        // Ours goes on advertising as MASTER, never stepping down, for its own Master_Down_Interval and three intervals
        // more after it dropped the higher-priority advert. (keepalived, with the wrong password, was seen sending only
        // one or two adverts in that time, so the window is counted in ours'.)
        var sinceUtc = DateTimeOffset.UtcNow;
        long since = Stopwatch.GetTimestamp();
        int adverts = (int)Math.Ceiling(MasterDown(Second, 100) / Second) + 3;
        await _wire.WaitForAdvertsAsync(_lab.Router0.IPv4, adverts, since, adverts * Second + TimeSpan.FromSeconds(10));
        Assert.False(ours.EnteredSince("BACKUP", sinceUtc), ours.Process.Output);
        Assert.DoesNotContain(_wire.From(_lab.Router0.IPv4, since), a => a.Priority != 100);
        Assert.DoesNotContain(ours.Process.Lines, l => l.Contains("right") || l.Contains("wrong"));

        Assert.Equal(0, await ours.StopAsync());
        Assert.Matches(@"dropped adverts: [1-9]", ours.Process.Lines.Last());
    }

    [Fact]
    public async Task Vrrp_v3_at_100ms_crash_of_keepalived_is_served_by_ours_within_master_down_interval()
    {
        var interval = TimeSpan.FromMilliseconds(100);
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(100, interval: interval));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        var ours = _lab.StartAgent(_lab.Router1, Ours(99, "--advert-interval", "100ms"));
        await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(10));
        await AssertNoTakeOverAsync(_lab.Router0, _lab.Router1, interval, MasterDown(interval, 99), ours, "MASTER");

        long fault = Stopwatch.GetTimestamp();
        var faultAt = DateTimeOffset.UtcNow;
        keepalived.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(5));
        Assert.True(served <= MasterDown(interval, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory}); fault at {faultAt:HH:mm:ss.fff}; agent:\n{ours.Process.Output}");
        // The client's tolerance admits Skew_Time (61 ms) as well as Master_Down_Interval (361 ms); the wire and our
        // own log line do not.
        await AssertWaitedMasterDownAsync(await TakeOverGapAsync(_lab.Router0, _lab.Router1, fault, TimeSpan.FromSeconds(5)), interval, 99, ours);
    }

    [Fact]
    public async Task A_clean_stop_of_ours_hands_over_to_keepalived_after_skew_time()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(99));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await _wire.WaitForAdvertsAsync(_lab.Router0.IPv4, 2, Stopwatch.GetTimestamp(), TimeSpan.FromSeconds(5));

        long fault = Stopwatch.GetTimestamp();
        var stopped = ours.StopAsync();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));
        Assert.Equal(0, await stopped);

        // Priority 0 makes keepalived wait Skew_Time (157/256 s), not Master_Down_Interval (3.6 s): its own log says
        // why, and on the wire its first advert follows our priority-0 advert by Skew_Time.
        var skew = SkewTime(Second, 99);
        Assert.True(served <= skew + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        Assert.False(VrrpInteropLab.HoldsVip(_lab.Router0));
        await keepalived.Process.WaitForLineAsync(l => l.Contains("Backup received priority 0 advertisement"), TimeSpan.FromSeconds(5));
        var resigned = _wire.From(_lab.Router0.IPv4, fault).First(a => a.Priority == 0);
        var first = await _wire.FirstAsync(_lab.Router1.IPv4, fault, TimeSpan.FromSeconds(5));
        var gap = VrrpWire.Between(resigned.At, first.At);
        var midway = (skew + MasterDown(Second, 99)) / 2;
        Assert.True(gap >= skew - TimeSpan.FromMilliseconds(20) && gap < midway,
            $"keepalived's first advert came {gap.TotalMilliseconds:F1} ms after our priority-0 advert; Skew_Time is {skew.TotalMilliseconds:F1} ms");
    }

    public void Dispose()
    {
        _wire.Dispose();
        _lab.Dispose();
    }
}
