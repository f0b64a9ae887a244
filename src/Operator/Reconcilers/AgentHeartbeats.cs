using k8s.Models;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// One agent's heartbeat as the operator judges it: when the operator last saw its Lease renewed (on its own clock) and the
/// lease duration the agent asked for. Pure.
/// </summary>
public sealed record Heartbeat(string Node, DateTimeOffset LastRenewalSeen, TimeSpan Duration)
{
    public DateTimeOffset ExpiresAt => LastRenewalSeen + Duration;
    public bool ExpiredAt(DateTimeOffset now) => now >= ExpiresAt;
}

/// <summary>The agents' heartbeat Leases: <c>nginx-ha-agent-NODE</c> in the operator's namespace, holder NODE.</summary>
public static class AgentLeases
{
    public const string Prefix = NginxHa.Core.Resources.ApiGroup.AgentLeasePrefix;

    public static string LeaseName(string node) => Prefix + node;

    /// <summary>The node a Lease is the heartbeat of, or null for any other Lease (e.g. the operator's own).</summary>
    public static string? NodeOf(V1Lease lease)
    {
        var name = lease.Metadata?.Name;
        return name is not null && name.Length > Prefix.Length && name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : null;
    }
}

/// <summary>
/// Follows the agents' heartbeat Leases (fed by the Lease informer) and tells when a node's heartbeat expires or comes
/// back. Freshness is judged by when this process saw a renewal, not by the renewTime the agent wrote, so the agents'
/// clocks need not agree with ours (as the node lifecycle controller judges kubelet Leases); only a Lease seen for the
/// first time is dated by its renewTime (capped at now), so a node that died before the operator started is expired at
/// once. A deleted Lease counts as expired. A node with no Lease ever seen is not judged (an agent older than heartbeats):
/// its reports count as they are. One timer per node fires at the expiry and raises <see cref="Changed"/>.
/// </summary>
public sealed class HeartbeatTracker : IDisposable
{
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly Dictionary<string, Entry> _nodes = new(StringComparer.Ordinal);

    private sealed class Entry
    {
        public required Heartbeat Heartbeat;
        public DateTime? RenewTime;
        public bool Expired;
        public ITimer? Timer;
    }

    public HeartbeatTracker(TimeProvider time) => _time = time;

    /// <summary>Raised (outside the lock) when a node's heartbeat expires, comes back, or is first seen: its groups' status changes.</summary>
    public event Action<string>? Changed;

    /// <summary>The time heartbeats are judged by.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>The heartbeats known now, by node.</summary>
    public IReadOnlyDictionary<string, Heartbeat> Snapshot()
    {
        lock (_lock) return _nodes.ToDictionary(n => n.Key, n => n.Value.Heartbeat, StringComparer.Ordinal);
    }

    /// <summary>Whether the node's reports count at <paramref name="now"/>: no heartbeat known, or one that has not expired.</summary>
    public bool Reporting(string node, DateTimeOffset now)
    {
        lock (_lock) return !_nodes.TryGetValue(node, out var entry) || !entry.Heartbeat.ExpiredAt(now);
    }

    /// <summary>A Lease added or modified.</summary>
    public void Observe(V1Lease lease)
    {
        if (AgentLeases.NodeOf(lease) is not { } node) return;
        var now = _time.GetUtcNow();
        var renewTime = lease.Spec?.RenewTime;
        var duration = TimeSpan.FromSeconds(Math.Clamp(lease.Spec?.LeaseDurationSeconds ?? 0, 1, 3600));
        bool notify;
        lock (_lock)
        {
            if (_nodes.TryGetValue(node, out var entry))
            {
                // Our own clock dates a renewal; a Lease whose renewTime did not move (e.g. a label edit) renews nothing.
                var seen = renewTime is not null && renewTime != entry.RenewTime ? now : entry.Heartbeat.LastRenewalSeen;
                entry.Heartbeat = new Heartbeat(node, seen, duration);
                entry.RenewTime = renewTime;
            }
            else
            {
                var first = renewTime is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : DateTimeOffset.MinValue;
                entry = new Entry { Heartbeat = new Heartbeat(node, first > now ? now : first, duration), RenewTime = renewTime, Expired = true };
                _nodes[node] = entry;
            }
            notify = Rearm(entry, now, firstSight: entry.Timer is null);
        }
        if (notify) Changed?.Invoke(node);
    }

    /// <summary>A Lease deleted: the node's heartbeat is expired from now on (a living agent creates it again).</summary>
    public void Forget(V1Lease lease)
    {
        if (AgentLeases.NodeOf(lease) is not { } node) return;
        var now = _time.GetUtcNow();
        bool notify;
        lock (_lock)
        {
            if (!_nodes.TryGetValue(node, out var entry)) return;
            entry.Heartbeat = new Heartbeat(node, now - entry.Heartbeat.Duration, entry.Heartbeat.Duration);
            entry.RenewTime = null;
            notify = Rearm(entry, now, firstSight: false);
        }
        if (notify) Changed?.Invoke(node);
    }

    /// <summary>Sets the entry's expired flag and timer from its heartbeat; true when the flag flipped. Caller holds the lock.</summary>
    private bool Rearm(Entry entry, DateTimeOffset now, bool firstSight)
    {
        var expired = entry.Heartbeat.ExpiredAt(now);
        var flipped = firstSight || expired != entry.Expired;
        entry.Expired = expired;
        entry.Timer ??= _time.CreateTimer(OnTimer, entry.Heartbeat.Node, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        entry.Timer.Change(expired ? Timeout.InfiniteTimeSpan : entry.Heartbeat.ExpiresAt - now, Timeout.InfiniteTimeSpan);
        return flipped;
    }

    private void OnTimer(object? state)
    {
        var node = (string)state!;
        bool notify = false;
        lock (_lock)
        {
            if (_nodes.TryGetValue(node, out var entry))
            {
                var now = _time.GetUtcNow();
                notify = Rearm(entry, now, firstSight: false); // a renewal seen meanwhile re-arms for later
            }
        }
        if (notify) Changed?.Invoke(node);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _nodes.Values) entry.Timer?.Dispose();
            _nodes.Clear();
        }
    }
}
