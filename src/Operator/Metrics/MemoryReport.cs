using System.Globalization;
using System.Runtime;

namespace NginxHa.Operator.Metrics;

/// <summary>
/// Where the operator's memory goes, as one log line (<c>run --memory-log SECONDS</c>, a hidden flag for
/// bench/operator-scale.sh): the kernel's split of the resident set (anonymous: the GC heap and native allocations;
/// file: mapped assemblies and libraries; shmem: the runtime's double-mapped executable memory, JIT code and loader
/// heaps) beside the GC's own view (heap after the last collection, committed, fragmentation) and the JIT's work.
/// </summary>
public sealed record MemoryReport(
    long RssKb, long HwmKb, long AnonKb, long FileKb, long ShmemKb,
    long GcHeapBytes, long GcCommittedBytes, long GcFragmentedBytes, long GcAllocatedBytes,
    int Gen0, int Gen1, int Gen2, long JitMethods, long JitIlBytes)
{
    /// <summary>The current process's figures (reads /proc/self/status and the runtime's counters).</summary>
    public static MemoryReport Read()
    {
        var status = ParseStatus(File.ReadAllText("/proc/self/status"));
        var gc = GC.GetGCMemoryInfo(GCKind.Any);
        return new MemoryReport(
            status.GetValueOrDefault("VmRSS"), status.GetValueOrDefault("VmHWM"), status.GetValueOrDefault("RssAnon"),
            status.GetValueOrDefault("RssFile"), status.GetValueOrDefault("RssShmem"),
            gc.HeapSizeBytes, gc.TotalCommittedBytes, gc.FragmentedBytes, GC.GetTotalAllocatedBytes(),
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompiledILBytes());
    }

    /// <summary>The "Name: N kB" lines of /proc/PID/status, in kB; other lines are left out.</summary>
    public static IReadOnlyDictionary<string, long> ParseStatus(string text)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !line.EndsWith(" kB", StringComparison.Ordinal)) continue;
            if (long.TryParse(line.AsSpan(colon + 1, line.Length - colon - 4).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var kb))
                result[line[..colon]] = kb;
        }
        return result;
    }

    /// <summary>One line of key=value pairs (MB with one decimal), which the benchmark parses back with <see cref="Parse"/>.</summary>
    public string Format() => string.Create(CultureInfo.InvariantCulture,
        $"memory: rss={Mb(RssKb * 1024)} hwm={Mb(HwmKb * 1024)} anon={Mb(AnonKb * 1024)} file={Mb(FileKb * 1024)} shmem={Mb(ShmemKb * 1024)} " +
        $"gc_heap={Mb(GcHeapBytes)} gc_committed={Mb(GcCommittedBytes)} gc_fragmented={Mb(GcFragmentedBytes)} gc_allocated={Mb(GcAllocatedBytes)} " +
        $"gc_counts={Gen0}/{Gen1}/{Gen2} jit_methods={JitMethods} jit_il={Mb(JitIlBytes)} gc_mode={(GCSettings.IsServerGC ? "server" : "workstation")}/{GCSettings.LatencyMode}");

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>The key=value pairs after "memory:" in a log line (values as written); null for any other line.</summary>
    public static IReadOnlyDictionary<string, string>? Parse(string line)
    {
        var at = line.IndexOf("memory: ", StringComparison.Ordinal);
        if (at < 0) return null;
        return line[(at + "memory: ".Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
    }
}
