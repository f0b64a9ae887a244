using NginxHa.Observability.Memory;

namespace NginxHa.NodeAgent.Platform;

/// <summary>
/// Gives back, once, the heap that start-up needed and steady state does not: a settle time after the first config
/// is applied, one aggressive collection (blocking, compacting, free regions decommitted) and the binary's read-only
/// pages that only start-up read (<see cref="ImagePages"/>). Start-up (manifests parsed,
/// Kestrel started, every instance announcing) commits GC regions that the GC otherwise keeps for the process's life:
/// the agent's VmRSS differed by up to 6 MB from run to run by how start-up went (docs/benchmarks.md, "Agent cost").
/// The pause is a few milliseconds on this small heap, far inside a backup's Master_Down_Interval.
/// </summary>
public sealed class StartupMemoryTrim : IDisposable
{
    /// <summary>Long enough for start-up's bursts (first scrape, announcements, a first reload) to be over.</summary>
    public static readonly TimeSpan DefaultSettle = TimeSpan.FromSeconds(10);

    readonly ITimer _timer;
    int _done;

    /// <summary><paramref name="trim"/>: the collection (tests give a counter).</summary>
    public StartupMemoryTrim(TimeProvider time, TimeSpan settle, Action trim)
    {
        _timer = time.CreateTimer(_ =>
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) trim();
        }, null, settle, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The agent's trim: the binary's start-up-only pages given back, then the heap collected aggressively (last,
    /// so the garbage of reading /proc goes too).</summary>
    public static void GiveBack()
    {
        ImagePages.Release();
        CollectAggressively();
    }

    /// <summary>Everything collected and compacted, and the free memory returned to the system.</summary>
    public static void CollectAggressively() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    public void Dispose() => _timer.Dispose();
}
