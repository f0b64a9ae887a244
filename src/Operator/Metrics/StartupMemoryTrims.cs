using System.Diagnostics;
using System.Globalization;
using NginxHa.Observability.Memory;

namespace NginxHa.Operator.Metrics;

/// <summary>The points of the operator's start-up after which what it needed so far can be given back.</summary>
public enum StartupStep
{
    /// <summary>Every informer has listed its kind: the kubeconfig, the client and its JSON types are loaded.</summary>
    CachesSynced,

    /// <summary>The leader's first plan has been written to the nodes (the initial reconcile, before its status tail).</summary>
    FirstPlanWritten,
}

/// <summary>
/// Gives back the memory that start-up touched and steady state does not use, at each <see cref="StartupStep"/> and once
/// more a settle time after the first plan (the initial reconcile's tail of status writes and finalizers over): glibc's
/// free pages, the resident pages of clean file mappings (<see cref="ImagePages.ReleaseFileMappings"/>: the IL of
/// KubernetesClient's thousands of types, ReadyToRun code, native libraries) and the GC's free regions. At 200 nodes
/// the operator's peak resident set fell from 154 to 156 MB to 124 to 129 MB; pages used again come back by minor faults
/// (docs/benchmarks.md, "Operator memory: start-up pages given back").
/// </summary>
public sealed class StartupMemoryTrims : IDisposable
{
    /// <summary>As the agent's: long enough after the first plan for the initial status writes to be over.</summary>
    public static readonly TimeSpan DefaultSettle = TimeSpan.FromSeconds(10);

    readonly TimeProvider _time;
    readonly TimeSpan _settle;
    readonly Action<string> _trim;
    readonly HashSet<StartupStep> _reached = [];
    readonly Lock _lock = new();
    ITimer? _settled;
    bool _disposed;

    /// <summary><paramref name="trim"/> gives the memory back; it gets the reason (tests give a recorder).</summary>
    public StartupMemoryTrims(TimeProvider time, TimeSpan settle, Action<string> trim)
    {
        _time = time;
        _settle = settle;
        _trim = trim;
    }

    /// <summary>A step was reached: the first time, memory is given back now (and for the first plan, again after the settle time).</summary>
    public void Reached(StartupStep step)
    {
        lock (_lock)
        {
            if (_disposed || !_reached.Add(step)) return;
            if (step == StartupStep.FirstPlanWritten)
                _settled = _time.CreateTimer(_ => Trim("initial reconcile settled"), null, _settle, Timeout.InfiniteTimeSpan);
        }
        Trim(step == StartupStep.CachesSynced ? "caches synced" : "first plan written");
    }

    void Trim(string reason)
    {
        lock (_lock)
        {
            if (_disposed) return;
            _trim(reason); // one at a time: the settle timer's never runs beside a step's
        }
    }

    /// <summary>Between the two reads of the mappings (<see cref="ImagePages.ReleaseFileMappings"/>): far longer than an image's load.</summary>
    public static readonly TimeSpan SeenCleanApart = TimeSpan.FromMilliseconds(50);

    /// <summary>The operator's trim: native heap, clean file pages, then the GC heap; one line saying what it gave back.</summary>
    public static string GiveBack(string reason)
    {
        long before = ResidentKb();
        NativeHeap.Trim();
        long files = ImagePages.ReleaseFileMappings(SeenCleanApart);
        // Last, so the garbage of reading /proc goes too. The only part that stops the other threads.
        var collecting = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var paused = Stopwatch.GetElapsedTime(collecting);
        long after = ResidentKb();
        return string.Create(CultureInfo.InvariantCulture,
            $"memory: start-up pages given back ({reason}): VmRSS {before / 1024.0:0.0} -> {after / 1024.0:0.0} MB " +
            $"({files >> 20} MB of clean file mappings advised; the compacting collection took {paused.TotalMilliseconds:0} ms)");
    }

    static long ResidentKb()
    {
        try { return MemoryReport.ParseStatus(File.ReadAllText("/proc/self/status")).GetValueOrDefault("VmRSS"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _settled?.Dispose();
        }
    }
}
