using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NginxHa.Bench.OperatorScale;

/// <summary>The numbers of one run: a console summary, markdown rows for docs/benchmarks.md and JSON.</summary>
public sealed record Report(string Text, string Markdown, string Json, IReadOnlyList<string> Failures)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Nearest-rank percentile.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    /// <summary>Changes whose NodeHaConfig writes were not exactly one per affected node and none elsewhere.</summary>
    public static IReadOnlyList<string> CountProblems(IEnumerable<ChangeResult> changes) =>
        changes.Where(c => c.WritesOnAffected != c.Affected || c.AffectedWrittenOnce != c.Affected || c.WritesElsewhere != 0)
            .Select(c => $"change {c.Index} ({c.Description}): {c.WritesOnAffected} write(s) on {c.Affected} affected node(s) " +
                         $"({c.AffectedWrittenOnce} written exactly once), {c.WritesElsewhere} elsewhere").ToList();

    public static Report Build(ScaleOptions options, InitialResult initial, TailResult tail, IReadOnlyList<ChangeResult> changes, long rssAfterInitialKb, long rssEndKb,
        long hwmKb, long peakSampledKb, AgentSimulator agents, string planMetrics,
        string memoryBreakdown = "")
    {
        var latencies = changes.Select(c => c.Latency.TotalMilliseconds).ToList();
        var (p50, p99, max) = (Percentile(latencies, 50), Percentile(latencies, 99), latencies.Count == 0 ? double.NaN : latencies.Max());
        var cpu = changes.Select(c => c.OperatorCpuMs).ToList();
        var n = Math.Max(1, changes.Count);
        static bool Sim(string key) => SimulatorUserAgent.IsSimulator(key);
        var operatorRequests = changes.SelectMany(c => c.Requests).Where(r => !Sim(r.Key)).GroupBy(r => r.Key)
            .ToDictionary(g => g.Key, g => g.Sum(r => r.Value) / (double)n);
        var simRequests = changes.SelectMany(c => c.Requests).Where(r => Sim(r.Key)).GroupBy(r => r.Key)
            .ToDictionary(g => g.Key, g => g.Sum(r => r.Value) / (double)n);
        var affected = changes.Sum(c => c.Affected);
        var writes = changes.Sum(c => c.WritesOnAffected + c.WritesElsewhere);
        var failures = CountProblems(changes).ToList();
        if (agents.Failures > 0) failures.Add($"{agents.Failures} simulated agent status write(s) failed");
        var initialOperator = initial.Requests.Where(r => !Sim(r.Key)).Sum(r => r.Value);
        var tailOperator = tail.Requests.Where(r => !Sim(r.Key)).OrderByDescending(r => r.Value).ToList();
        string Ms(double v) => v.ToString("F1", Inv);
        string Mb(long kb) => (kb / 1024.0).ToString("F1", Inv);
        string Met(bool ok) => ok ? "met" : "**missed**";

        var md = new StringBuilder();
        md.AppendLine("| measured | value | target |");
        md.AppendLine("| --- | --- | --- |");
        md.AppendLine(Inv, $"| initial full reconcile: operator start to all {initial.Nodes} NodeHaConfigs written | {Ms(initial.AllWritten.TotalMilliseconds)} ms (last write at {Ms(initial.LastWrite.TotalMilliseconds)} ms; {initial.Writes} writes for {initial.Nodes} nodes) | < 5 s: {Met(initial.LastWrite.TotalSeconds < 5)} |");
        md.AppendLine(Inv, $"| change to every affected NodeHaConfig written, over {changes.Count} changes | p50 {Ms(p50)} ms, p99 {Ms(p99)} ms, max {Ms(max)} ms | p99 < 200 ms: {Met(p99 < 200)} |");
        md.AppendLine(Inv, $"| operator CPU time (utime + stime) | initial reconcile (from its start, .NET start-up and JIT included) {initial.OperatorCpuMs.ToString("F0", Inv)} ms; per change p50 {Ms(Percentile(cpu, 50))} ms, p99 {Ms(Percentile(cpu, 99))} ms (10 ms ticks; the plan and the status of every group and pool) | |");
        if (initial.CpuToAllWrittenMs.Count > 0)
            md.AppendLine(Inv, $"| CPU time by process from the operator's start to all NodeHaConfigs written (utime + stime, 10 ms ticks) | {string.Join(", ", initial.CpuToAllWrittenMs.OrderByDescending(p => p.Value).Select(p => $"{p.Key} {p.Value.ToString("F0", Inv)} ms"))}; {initial.CpuToAllWrittenMs.Values.Sum().ToString("F0", Inv)} ms in all, of the {(initial.AllWritten.TotalMilliseconds * Environment.ProcessorCount).ToString("F0", Inv)} ms that {Environment.ProcessorCount} CPUs had meanwhile | |");
        md.AppendLine(Inv, $"| NodeHaConfig writes per change | {writes} writes for {affected} affected nodes over {changes.Count} changes ({(writes / (double)n).ToString("F2", Inv)} per change), {changes.Sum(c => c.WritesElsewhere)} on unaffected nodes | one per affected node: {Met(failures.Count == 0)} |");
        md.AppendLine(Inv, $"| operator API requests per change | {(operatorRequests.Values.Sum()).ToString("F1", Inv)}: {string.Join(", ", operatorRequests.OrderByDescending(r => r.Value).Select(r => $"{r.Key[(r.Key.IndexOf(' ') + 1)..]} {r.Value.ToString("0.##", Inv)}"))} | |");
        md.AppendLine(Inv, $"| simulated agents' and benchmark's requests per change | {(simRequests.Values.Sum()).ToString("F1", Inv)}: {string.Join(", ", simRequests.OrderByDescending(r => r.Value).Select(r => $"{r.Key[(r.Key.IndexOf(' ') + 1)..]} {r.Value.ToString("0.##", Inv)}"))} | |");
        md.AppendLine(Inv, $"| operator API requests during the initial reconcile | {initialOperator} | |");
        md.AppendLine(Inv, $"| the initial reconcile's tail (finalizers, first status of every group and pool), before the changes | {tailOperator.Sum(r => r.Value)} operator requests after the last NodeHaConfig write{(tailOperator.Count == 0 ? "" : ": " + string.Join(", ", tailOperator.Select(r => $"{r.Key[(r.Key.IndexOf(' ') + 1)..]} {r.Value}")))}; {(tail.Quiet ? "quiet" : "**still sending**")} {Ms(tail.QuietAt.TotalMilliseconds)} ms after its start | |");
        // Judged on the larger: the sampler also sees the operator's stop, after VmHWM is read.
        md.AppendLine(Inv, $"| operator memory | VmHWM {Mb(hwmKb)} MB (after the changes and a /metrics scrape); VmRSS {Mb(rssAfterInitialKb)} MB after the initial reconcile, {Mb(rssEndKb)} MB at the end (peak sampled every 200 ms until it exits: {Mb(peakSampledKb)} MB) | < 150 MB: {Met(Math.Max(hwmKb, peakSampledKb) < 150 * 1024)} |");
        if (memoryBreakdown.Length > 0) md.AppendLine(Inv, $"| operator memory breakdown (MB; its --memory-log lines) | {memoryBreakdown} | |");

        var text = new StringBuilder();
        text.AppendLine(Inv, $"operator-scale: {options.Nodes} nodes, {options.Groups} groups, {options.Pools} pools, racks of {options.RackSize}, {changes.Count} changes");
        text.Append(md);
        text.AppendLine(Inv, $"simulated agents: {agents.Writes} status writes, {agents.Failures} failed");
        text.AppendLine("operator reconcile durations (/metrics):");
        text.AppendLine(planMetrics);
        foreach (var f in failures) text.AppendLine("FAIL " + f);

        var json = JsonSerializer.Serialize(new
        {
            options.Nodes, options.Groups, options.Pools, options.RackSize,
            initial = new { allWrittenMs = initial.AllWritten.TotalMilliseconds, lastWriteMs = initial.LastWrite.TotalMilliseconds, initial.Writes, initial.Nodes, initial.Requests },
            tail = new { quietAtMs = tail.QuietAt.TotalMilliseconds, quiet = tail.Quiet, requests = tail.Requests },
            latencyMs = new { p50, p99, max },
            operatorCpuMs = new { initial = initial.OperatorCpuMs, perChangeP50 = Percentile(cpu, 50), perChangeP99 = Percentile(cpu, 99) },
            changes = changes.Select(c => new { c.Index, c.Description, latencyMs = c.Latency.TotalMilliseconds, cpuMs = c.OperatorCpuMs, c.Affected, c.WritesOnAffected, c.WritesElsewhere, c.Requests }),
            operatorRequestsPerChange = operatorRequests,
            simulatorRequestsPerChange = simRequests,
            memoryKb = new { hwm = hwmKb, afterInitial = rssAfterInitialKb, end = rssEndKb, peakSampled = peakSampledKb },
            memoryBreakdown,
            agentStatusWrites = agents.Writes,
            failures,
        }, new JsonSerializerOptions { WriteIndented = true });
        return new Report(text.ToString(), md.ToString(), json, failures);
    }
}
