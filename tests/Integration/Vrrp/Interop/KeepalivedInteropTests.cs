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

    readonly VrrpInteropLab _lab = new("ka");

    static TimeSpan MasterDown(TimeSpan interval, int priority) => 3 * interval + interval * (256 - priority) / 256;

    static KeepalivedInstance Keepalived(int priority, int version = 3, TimeSpan? interval = null, string? pass = null, bool preempt = true) =>
        new("eth0", 51, priority, [VrrpInteropLab.VipWithPrefix], version, interval ?? Second, pass, preempt);

    static string[] Ours(int priority, params string[] more) =>
        ["--vrid", "51", "--priority", priority.ToString(), "--vip", VrrpInteropLab.VipWithPrefix, .. more];

    /// <summary>Keeps watching for <paramref name="duration"/>: the agent must not leave its state.</summary>
    static async Task AssertStaysAsync(AgentProcess agent, string forbiddenState, TimeSpan duration)
    {
        var since = DateTimeOffset.UtcNow;
        await Task.Delay(duration);
        Assert.False(agent.EnteredSince(forbiddenState, since), $"the agent entered {forbiddenState}:\n{agent.Process.Output}");
    }

    [Fact]
    public async Task Keepalived_master_ours_backup_then_keepalived_crashes_and_ours_serves_within_master_down_interval()
    {
        var keepalived = _lab.StartKeepalived(_lab.Router0, Keepalived(100));
        await keepalived.WaitForMasterAsync(TimeSpan.FromSeconds(10));
        var ours = _lab.StartAgent(_lab.Router1, Ours(99));
        await ours.WaitForStateAsync("BACKUP", TimeSpan.FromSeconds(10));
        await AssertStaysAsync(ours, "MASTER", MasterDown(Second, 99) + Second);
        Assert.Equal("n0", await _lab.ReadBannerAsync());

        long fault = Stopwatch.GetTimestamp();
        keepalived.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));

        Assert.True(served <= MasterDown(Second, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        Assert.True(VrrpInteropLab.HoldsVip(_lab.Router1));
    }

    [Fact]
    public async Task Ours_master_keepalived_backup_then_ours_crashes_and_keepalived_serves()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(99));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(MasterDown(Second, 99) + Second);
        Assert.DoesNotContain(keepalived.Process.Lines, l => l.Contains("Entering MASTER STATE"));
        Assert.Equal("n0", await _lab.ReadBannerAsync());

        long fault = Stopwatch.GetTimestamp();
        ours.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));
        Assert.True(served <= MasterDown(Second, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
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
        await AssertStaysAsync(ours, "BACKUP", MasterDown(Second, 150) + 2 * Second);
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
        await AssertStaysAsync(ours, "MASTER", MasterDown(Second, 99) + Second);
        Assert.DoesNotContain(ours.Process.Lines, l => l.Contains("dropped"));

        long fault = Stopwatch.GetTimestamp();
        keepalived.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));
        Assert.True(served <= MasterDown(Second, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
    }

    [Fact]
    public async Task Vrrp_v2_with_pass_authentication_ours_master_keepalived_backup()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100, "--version", "2", "--auth-pass-file", _lab.WriteSecretFile("s3cret")));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(99, version: 2, pass: "s3cret"));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(MasterDown(Second, 99) + Second);
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
        await AssertStaysAsync(ours, "BACKUP", MasterDown(Second, 100) + Second);
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
        await AssertStaysAsync(ours, "MASTER", TimeSpan.FromSeconds(2));

        long fault = Stopwatch.GetTimestamp();
        var faultAt = DateTimeOffset.UtcNow;
        keepalived.Crash();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(5));
        Assert.True(served <= MasterDown(interval, 99) + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory}); fault at {faultAt:HH:mm:ss.fff}; agent:\n{ours.Process.Output}");
    }

    [Fact]
    public async Task A_clean_stop_of_ours_hands_over_to_keepalived_after_skew_time()
    {
        var ours = _lab.StartAgent(_lab.Router0, Ours(100));
        await ours.WaitForStateAsync("MASTER", TimeSpan.FromSeconds(10));
        var keepalived = _lab.StartKeepalived(_lab.Router1, Keepalived(99));
        await keepalived.WaitForBackupAsync(TimeSpan.FromSeconds(10));
        await Task.Delay(TimeSpan.FromSeconds(2));

        long fault = Stopwatch.GetTimestamp();
        var stopped = ours.StopAsync();
        var served = await _lab.WaitUntilServedByAsync(_lab.Router1, fault, TimeSpan.FromSeconds(10));
        Assert.Equal(0, await stopped);

        // Priority 0 makes keepalived wait Skew_Time (157/256 s), not Master_Down_Interval (3.6 s).
        var skew = Second * (256 - 99) / 256;
        Assert.True(served <= skew + Tolerance, $"served after {served.TotalMilliseconds:F0} ms ({_lab.LastProbeHistory})");
        Assert.False(VrrpInteropLab.HoldsVip(_lab.Router0));
    }

    public void Dispose() => _lab.Dispose();
}
