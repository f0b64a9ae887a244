namespace NginxHa.NodeAgent.Node;

/// <summary>
/// When each of the agent's working loops (the apply loop, each VRRP speaker's event loop) last showed progress, so the
/// heartbeat says the agent works, not only that the heartbeat's own task runs. A loop beats when it finishes work or
/// answers a probe (<see cref="RequestProbe"/>: loops that are idle are asked to show they would still act); a loop that
/// hangs stops beating. Only registered loops count: one that ends (an instance removed) is forgotten.
/// </summary>
public sealed class AgentLiveness(TimeProvider time)
{
    readonly Lock _gate = new();
    readonly Dictionary<string, long> _lastBeat = new(StringComparer.Ordinal);

    /// <summary>Raised by <see cref="RequestProbe"/>: each loop's owner asks it to beat (answers arrive asynchronously).</summary>
    public event Action? ProbeRequested;

    /// <summary>The loop showed progress now (also registers it: starting is progress).</summary>
    public void Beat(string loop)
    {
        var now = time.GetTimestamp();
        lock (_gate) _lastBeat[loop] = now;
    }

    /// <summary>The loop ended as intended: it no longer counts.</summary>
    public void Forget(string loop)
    {
        lock (_gate) _lastBeat.Remove(loop);
    }

    public void RequestProbe() => ProbeRequested?.Invoke();

    /// <summary>The loops that have not beaten within <paramref name="within"/>, with how long they have been silent; ordered by name.</summary>
    public IReadOnlyList<(string Loop, TimeSpan Silent)> Stalled(TimeSpan within)
    {
        var now = time.GetTimestamp();
        lock (_gate)
            return _lastBeat
                .Select(b => (Loop: b.Key, Silent: time.GetElapsedTime(b.Value, now)))
                .Where(b => b.Silent >= within)
                .OrderBy(b => b.Loop, StringComparer.Ordinal)
                .ToList();
    }
}
