using System.Globalization;
using NginxHa.Operator.Metrics;

namespace NginxHa.Bench.OperatorScale;

/// <summary>The operator's "memory:" log lines (run --memory-log): the one at the largest RSS, the last one before the
/// changes began, and the last one, for the breakdown in docs/benchmarks.md.</summary>
public sealed class MemoryLines
{
    private readonly object _lock = new();
    private IReadOnlyDictionary<string, string>? _peak, _initial, _last;

    public void Add(string line)
    {
        if (MemoryReport.Parse(line) is not { } values || !values.ContainsKey("rss")) return;
        lock (_lock)
        {
            _last = values;
            if (_peak is null || Number(values, "rss") >= Number(_peak, "rss")) _peak = values;
        }
    }

    /// <summary>The initial reconcile is over: the last line so far describes it.</summary>
    public void MarkInitial()
    {
        lock (_lock) _initial = _last;
    }

    private static double Number(IReadOnlyDictionary<string, string> values, string key) =>
        values.TryGetValue(key, out var text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN;

    /// <summary>One sentence per moment: the kernel's split of the RSS and the GC's view, in MB.</summary>
    public string Breakdown()
    {
        lock (_lock)
        {
            if (_peak is null) return "no memory lines from the operator";
            static string Describe(string when, IReadOnlyDictionary<string, string>? v) => v is null ? "" :
                $"{when}: RSS {v.GetValueOrDefault("rss")} = anonymous {v.GetValueOrDefault("anon")} (GC committed {v.GetValueOrDefault("gc_committed")}, " +
                $"GC heap after the last GC {v.GetValueOrDefault("gc_heap")}, fragmented {v.GetValueOrDefault("gc_fragmented")}) + files {v.GetValueOrDefault("file")} " +
                $"+ shmem {v.GetValueOrDefault("shmem")} (double-mapped JIT code and loader heaps); {v.GetValueOrDefault("gc_allocated")} allocated in all, " +
                $"GCs gen0/1/2 {v.GetValueOrDefault("gc_counts")}, {v.GetValueOrDefault("jit_methods")} methods JIT-compiled, {v.GetValueOrDefault("gc_mode")} GC";
            return string.Join("; ", new[] { Describe("at the largest RSS sampled (1 s)", _peak), Describe("after the initial reconcile", _initial),
                Describe("at the end", _last) }.Where(s => s.Length > 0));
        }
    }
}
