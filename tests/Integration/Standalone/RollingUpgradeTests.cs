using NginxHa.Integration.Tests.Vrrp.Interop;
using Xunit.Abstractions;

namespace NginxHa.Integration.Tests.Standalone;

/// <summary>
/// Issue 11 §4: a rolling upgrade as a DaemonSet update does it (one node at a time: SIGTERM, wait for the exit,
/// start the agent again, wait until it serves its VIP again, next node) while clients request both VIPs all the time.
/// The clients are patient like real ones (3 s to connect, so a SYN dropped while a VIP moves is retried after 1 s),
/// so what counts is failed requests, not the hand-over's latency, which is measured and reported. The only failures
/// allowed are connections in flight on a node when a VIP leaves it (reset by the new holder).
/// </summary>
[Collection(FailoverTimingCollection.Name)]
public sealed class RollingUpgradeTests(ITestOutputHelper output) : IAsyncLifetime
{
    static readonly TimeSpan Patient = TimeSpan.FromSeconds(3);
    readonly DualMasterLab _lab = new("ru");

    public Task InitializeAsync() => _lab.StartAsync();

    public Task DisposeAsync()
    {
        _lab.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Rolling_restart_of_every_agent_under_client_load_fails_no_request_beyond_those_in_flight_at_a_handover()
    {
        using var client1 = new VipProbe(_lab.Client, DualMasterLab.Vip1, SeedManifest.ListenPort, Patient, Patient);
        using var client2 = new VipProbe(_lab.Client, DualMasterLab.Vip2, SeedManifest.ListenPort, Patient, Patient);
        VipProbe[] clients = [client1, client2];
        foreach (var c in clients)
            await c.WaitForAsync(s => s.Ok, DateTimeOffset.UtcNow, TimeSpan.FromSeconds(10), "the client is served", _lab.ByBalancer);
        var start = DateTimeOffset.UtcNow;
        // An answer inside the judged span before the first stop, so a VIP move right at its start is seen as one (a
        // reset in flight at that move was once judged "away from a hand-over" because the move fell before the span).
        foreach (var c in clients)
            await c.WaitForAsync(s => s.Ok, start, TimeSpan.FromSeconds(5), "an answer before the first stop", _lab.ByBalancer);

        foreach (var node in _lab.Balancers)
        {
            var stoppedAt = DateTimeOffset.UtcNow;
            int exit = await node.StopAsync();
            Assert.True(exit == 0, $"{node.Name}: exit {exit} on SIGTERM\n{node.Output}");
            var stopTook = DateTimeOffset.UtcNow - stoppedAt;
            var startedAt = DateTimeOffset.UtcNow;
            node.Start(); // the new version: the same build (what is checked is the stop/start sequence, not a version skew)
            // A DaemonSet update moves on once the pod is ready; here: both VIPs back on their preferred masters.
            await _lab.WaitForPreferredMastersAsync(startedAt, TimeSpan.FromSeconds(30));
            output.WriteLine($"{node.Name}: SIGTERM -> exit 0 in {stopTook.TotalMilliseconds:F0} ms; new agent serving its VIP again after " +
                $"{(DateTimeOffset.UtcNow - startedAt).TotalMilliseconds:F0} ms");
        }
        await Task.Delay(500); // answers after the last step
        var end = DateTimeOffset.UtcNow;

        foreach (var c in clients)
        {
            var samples = c.Between(start, end);
            var failed = samples.Where(s => !s.Ok).ToArray();
            var moves = VipMoves(samples);
            // A connection open on the node a VIP leaves is reset once the client's packets reach the new holder: that
            // is a request in flight at a hand-over (the stop's, or the restarted node taking its VIP back). Anything
            // else (a refused or timed-out connect, a reset away from a move) is a failure the upgrade caused.
            // Its answer may also be lost on the way (a read timeout): still a request that was open while the VIP moved.
            var inFlight = failed.Where(f => InFlightAtOneOf(f, moves)).ToArray();
            var slowest = samples.Where(s => s.Ok).MaxBy(s => s.Took)!;
            output.WriteLine($"{c.Vip}: {samples.Count} requests, {failed.Length} failed ({inFlight.Length} in flight at one of the " +
                $"{moves.Count} VIP moves); slowest answer {slowest.Took.TotalMilliseconds:F0} ms; longest stretch without an answer " +
                $"{c.LongestGap(start, end).TotalMilliseconds:F0} ms");
            Assert.True(failed.Length == inFlight.Length,
                $"{c.Vip}: requests failed away from a hand-over: {c.Describe(start, end, _lab.ByBalancer)}\n{_lab.AgentOutput}");
        }
    }

    // Between the first answer through the new holder and the failure the client saw, on a loaded machine.
    static readonly TimeSpan MoveSlack = TimeSpan.FromMilliseconds(300);

    /// <summary>A failed request that was open while the VIP moved: reset by the new holder, or its answer lost.</summary>
    internal static bool InFlightAtOneOf(ProbeSample failed, IEnumerable<DateTimeOffset> moves) =>
        failed.Failure is "ConnectionReset" or "empty response" or "read timeout"
        && moves.Any(m => m >= failed.At - failed.Took - MoveSlack && m <= failed.At + MoveSlack);

    /// <summary>When the answering balancer changed: the first answer through the new one.</summary>
    internal static List<DateTimeOffset> VipMoves(IReadOnlyList<ProbeSample> samples)
    {
        var moves = new List<DateTimeOffset>();
        ProbeSample? last = null;
        foreach (var s in samples.Where(s => s.Ok))
        {
            if (last is not null && !Equals(last.Via, s.Via)) moves.Add(s.At);
            last = s;
        }
        return moves;
    }
}
