using NginxHa.Integration.Tests.Vrrp.Interop;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Issue 11 §4 in its strict form: a rolling upgrade fails no request beyond those in flight on the node that is
/// stopping. With preemption (the seed's dual-master) a restarted node takes its VIP back, and requests in flight on
/// the peer at that moment are reset (<see cref="RollingUpgradeTests"/>); with <c>preempt: false</c> a VIP moves only
/// away from a stopping node, so the only failures left are that node's own. Each VIP must move exactly once per stop
/// and never when a node comes back.
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class RollingUpgradeWithoutPreemptionTests(ITestOutputHelper output) : IDisposable
{
    static readonly TimeSpan Patient = TimeSpan.FromSeconds(3);
    // Five Master_Down_Intervals at 100 ms adverts: a restarted node that preempted would have done it by then.
    static readonly TimeSpan PreemptionWindow = TimeSpan.FromSeconds(2);
    readonly DualMasterLab _lab = new("rn", vrrp: SeedManifest.NoPreemptVrrp);

    public void Dispose() => _lab.Dispose();

    [Fact]
    public async Task Rolling_restart_without_preemption_fails_only_requests_in_flight_on_the_stopping_node()
    {
        await _lab.WaitForBackendsAsync();
        using var client1 = new VipProbe(_lab.Client, DualMasterLab.Vip1, SeedManifest.ListenPort, Patient, Patient);
        using var client2 = new VipProbe(_lab.Client, DualMasterLab.Vip2, SeedManifest.ListenPort, Patient, Patient);
        VipProbe[] clients = [client1, client2];
        // lb1 first, alone: without preemption the first master keeps both VIPs when lb2 joins.
        var since = DateTimeOffset.UtcNow;
        _lab.Lb1.Start();
        foreach (var c in clients)
            await c.WaitForAsync(s => s.Ok && _lab.Lb1.Address.Equals(s.Via), since, TimeSpan.FromSeconds(30), "served through lb1", _lab.ByBalancer);
        await StartAsBackupAsync(_lab.Lb2);
        var start = DateTimeOffset.UtcNow;
        // An answer through lb1 inside the judged span, so the first move is seen as one.
        foreach (var c in clients)
            await c.WaitForAsync(s => s.Ok && _lab.Lb1.Address.Equals(s.Via), start, TimeSpan.FromSeconds(5), "served through lb1", _lab.ByBalancer);

        var stops = new List<(StandaloneNode Node, DateTimeOffset From, DateTimeOffset To)>();
        foreach (var node in _lab.Balancers)
        {
            var stoppedAt = DateTimeOffset.UtcNow;
            int exit = await node.StopAsync();
            Assert.True(exit == 0, $"{node.Name}: exit {exit} on SIGTERM\n{node.Output}");
            var peer = _lab.Balancers.Single(b => b != node);
            foreach (var c in clients)
                await c.WaitForAsync(s => s.Ok && peer.Address.Equals(s.Via), stoppedAt, TimeSpan.FromSeconds(10), $"served through {peer.Name}", _lab.ByBalancer);
            var restartedAt = DateTimeOffset.UtcNow;
            stops.Add((node, stoppedAt, restartedAt));
            output.WriteLine($"{node.Name}: SIGTERM -> both VIPs served through {peer.Name} after {(restartedAt - stoppedAt).TotalMilliseconds:F0} ms");
            await StartAsBackupAsync(node); // the new version: the same build (the stop/start sequence is what is checked)
        }
        var end = DateTimeOffset.UtcNow;

        foreach (var c in clients)
        {
            var samples = c.Between(start, end);
            var moves = RollingUpgradeTests.VipMoves(samples);
            // One move per stop, each inside that stop (away from the stopping node), none when a node came back.
            Assert.True(moves.Count == stops.Count && moves.Zip(stops).All(p => p.First >= p.Second.From && p.First <= p.Second.To),
                $"{c.Vip}: VIP moves at {string.Join(", ", moves.Select(m => m.ToString("HH:mm:ss.fff")))}; stops " +
                $"{string.Join(", ", stops.Select(s => $"{s.Node.Name} {s.From:HH:mm:ss.fff}-{s.To:HH:mm:ss.fff}"))}\n{c.Describe(start, end, _lab.ByBalancer)}");
            var failed = samples.Where(s => !s.Ok).ToArray();
            var onStopping = failed.Where(f => RollingUpgradeTests.InFlightAtOneOf(f, moves)).ToArray();
            var slowest = samples.Where(s => s.Ok).MaxBy(s => s.Took)!;
            output.WriteLine($"{c.Vip}: {samples.Count} requests, {failed.Length} failed ({onStopping.Length} in flight on the stopping node); " +
                $"slowest answer {slowest.Took.TotalMilliseconds:F0} ms; longest stretch without an answer {c.LongestGap(start, end).TotalMilliseconds:F0} ms");
            Assert.True(failed.Length == onStopping.Length,
                $"{c.Vip}: requests failed beyond those in flight on the stopping node: {c.Describe(start, end, _lab.ByBalancer)}\n{_lab.AgentOutput}");
        }
    }

    /// <summary>Starts the node's agent and waits until both its instances are BACKUP, then through the window in which a
    /// preempting node would have taken a VIP; both VIPs must still be served by the peer.</summary>
    async Task StartAsBackupAsync(StandaloneNode node)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var agent = node.Start();
        foreach (var instance in new[] { "edge/web/0", "edge/web/1" })
            await agent.Process.WaitForLineAsync(l => l.Contains($"{instance}: INITIALIZE -> BACKUP", StringComparison.Ordinal), TimeSpan.FromSeconds(30), startedAt);
        await Task.Delay(PreemptionWindow);
        var peer = _lab.Balancers.Single(b => b != node);
        foreach (var vip in new[] { DualMasterLab.Vip1, DualMasterLab.Vip2 })
            Assert.True(peer.Holds(vip) && !node.Holds(vip), $"{vip}: {node.Name} took it back on its return\n{_lab.AgentOutput}");
    }
}
