using System.Diagnostics;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// A clock for protocol timers that never jumps: UTC at construction plus the monotonic time elapsed since.
/// <see cref="TimeProvider.System"/> reads the wall clock, so an NTP step (or an operator's `date -s`) of
/// minutes would stall a master's advert timer or fire a backup's master-down timer at once: a failover
/// nobody asked for. keepalived's timers are monotonic for the same reason. Timestamps in logs still come
/// from the wall clock.
/// </summary>
public sealed class MonotonicTimeProvider : TimeProvider
{
    readonly DateTimeOffset _start = DateTimeOffset.UtcNow;
    readonly long _startTimestamp = Stopwatch.GetTimestamp();

    public static MonotonicTimeProvider Instance { get; } = new();

    public override DateTimeOffset GetUtcNow() => _start + Stopwatch.GetElapsedTime(_startTimestamp);
}
