using System.Collections.Concurrent;
using k8s.Models;
using NginxHa.Operator.Machinery;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// What the controller does when a heartbeat expires, comes back or is first seen (<see cref="HeartbeatTracker.Changed"/>):
/// re-judge the node's groups (<c>judge</c>). An expiry seen by the leader is first confirmed by reading the Lease: a watch
/// that stopped delivering (until its watchdog re-opens it) must not make every node look dead. A renewal found that way
/// counts as seen now and the tracker raises a comeback. A Lease that cannot be read (the API server away) is read again
/// every <see cref="Recheck"/>, and <see cref="RechecksAfterAnOutage"/> more times once readable: otherwise every node stays
/// expired after an outage until the Lease watch re-lists, which can be its whole error back-off (up to 45 s).
/// </summary>
public sealed class HeartbeatConfirmation(
    HeartbeatTracker heartbeats,
    Func<string, CancellationToken, Task<V1Lease>> readLease,
    Func<bool> leading,
    Action<string> judge,
    string leaseNamespace,
    OperatorLog log,
    TimeProvider time)
{
    /// <summary>How soon an expiry that could not be confirmed (the Lease unreadable) is confirmed again.</summary>
    public static readonly TimeSpan Recheck = TimeSpan.FromSeconds(2);

    /// <summary>How many more reads confirm an expiry once the Lease is readable again after it was not.</summary>
    public const int RechecksAfterAnOutage = 5;

    /// <summary>How long one read of the Lease may take.</summary>
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, ITimer> _rechecks = new(StringComparer.Ordinal);

    /// <summary>Reads the node's heartbeat Lease (a renewal the watch missed counts as seen now); true if it is still
    /// expired. A deleted Lease counts as expired, as the tracker counts it; other read errors are the caller's.</summary>
    public async Task<bool> StillExpiredAsync(string node, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReadTimeout);
        try
        {
            heartbeats.Observe(await readLease(AgentLeases.LeaseName(node), timeout.Token).ConfigureAwait(false));
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
        }
        return !heartbeats.Reporting(node, heartbeats.Now);
    }

    /// <summary>The heartbeat of <paramref name="node"/> changed.</summary>
    public Task OnChangedAsync(string node) => ConfirmAsync(node, rechecks: 0);

    private async Task ConfirmAsync(string node, int rechecks)
    {
        if (leading() && !heartbeats.Reporting(node, heartbeats.Now))
        {
            var name = AgentLeases.LeaseName(node);
            try
            {
                using var timeout = new CancellationTokenSource(ReadTimeout, time);
                var lease = await readLease(name, timeout.Token).ConfigureAwait(false);
                heartbeats.Observe(lease); // a renewal found here raises Changed again, which judges the node reporting
                if (heartbeats.Reporting(node, heartbeats.Now))
                {
                    log.Info($"heartbeat: Lease {leaseNamespace}/{name} was renewed but the watch did not say so");
                    return;
                }
                // Just after an outage the agent may not have renewed yet: look a few more times before leaving it to the watch.
                if (rechecks > 0) RecheckLater(node, rechecks - 1);
            }
            catch (Exception e) when (e is k8s.Autorest.HttpOperationException or HttpRequestException or OperationCanceledException)
            {
                log.Debug($"heartbeat: reading Lease {name}: {OperatorLog.Describe(e)}");
                RecheckLater(node, RechecksAfterAnOutage);
            }
        }
        judge(node);
    }

    private void RecheckLater(string node, int rechecks)
    {
        if (_rechecks.ContainsKey(node)) return; // one pending recheck per node
        var timer = time.CreateTimer(_ =>
        {
            if (_rechecks.TryRemove(node, out var fired)) fired.Dispose();
            _ = ConfirmAsync(node, rechecks);
        }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_rechecks.TryAdd(node, timer)) timer.Change(Recheck, Timeout.InfiniteTimeSpan);
        else timer.Dispose();
    }
}
