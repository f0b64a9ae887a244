using NginxHa.Integration.Tests.Vrrp.Interop;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// The watchdog's hand-over under VRRPv2 PASS authentication: its priority-0 advert must carry the password, or the
/// peer drops it as an authentication failure and takes the VIP over only after Master_Down_Interval (3.6 s at
/// 1 s adverts) while the watchdog has already taken it off the dead agent's host.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class WatchdogPassAuthenticationTests(ITestOutputHelper output) : IAsyncLifetime
{
    const string Password = "s3cret";
    readonly DualMasterLab _lab = new("wp", vrrpAuthPassword: Password);

    public Task InitializeAsync() => _lab.StartAsync();

    public Task DisposeAsync()
    {
        _lab.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Agent_killed_alone_hands_its_v2_pass_vip_over_after_skew_time_with_an_authenticated_priority_zero_advert()
    {
        var node = _lab.Lb1;
        var peer = _lab.Lb2;
        var killedAt = DateTimeOffset.UtcNow;
        node.Agent.Crash();

        await peer.Agent.Process.WaitForLineAsync(l => l.Contains("edge/web/0", StringComparison.Ordinal)
            && l.Contains("BACKUP -> MASTER", StringComparison.Ordinal), TimeSpan.FromSeconds(10), killedAt);
        var takeOver = peer.Agent.Process.LinesSince(killedAt).First(l => l.Contains("edge/web/0", StringComparison.Ordinal)
            && l.Contains("BACKUP -> MASTER", StringComparison.Ordinal));
        output.WriteLine(takeOver);
        Assert.Contains("watchdog: edge/web/0: sent priority 0", node.Output);
        Assert.True(takeOver.Contains("the master resigned with priority 0; Skew_Time expired", StringComparison.Ordinal),
            $"{peer.Name} did not take the watchdog's priority-0 advert: {takeOver}\n{_lab.AgentOutput}");
        Assert.DoesNotContain(peer.Agent.Process.LinesSince(killedAt), l => l.Contains("AuthenticationFailed", StringComparison.Ordinal));
        await _lab.Probe1.WaitForAsync(s => s.Ok && peer.Address.Equals(s.Via), killedAt, TimeSpan.FromSeconds(5), $"served through {peer.Name}", _lab.ByBalancer);
        Assert.DoesNotContain(Password, _lab.AgentOutput, StringComparison.Ordinal);
    }
}
