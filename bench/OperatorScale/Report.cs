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

    public static Report Build(ScaleOptions options, InitialResult initial, IReadOnlyList<ChangeResult> changes, long rssAfterInitialKb, long rssEndKb,
        long hwmKb, long peakSampledKb, AgentSimulator agents, string planMetrics,
        string memoryBreakdown = "", double scrapeCpuMs = double.NaN)
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
        string Ms(double v) => v.ToString("F1", Inv);
        string Mb(long kb) => (kb / 1024.0).ToString("F1", Inv);
        string Met(bool ok) => ok ? "met" : "**missed**";

        var md = new StringBuilder();
        md.AppendLine("| measured | value | target |");
        md.AppendLine("| --- | --- | --- |");
        md.AppendLine(Inv, $"| initial full reconcile: operator start to all {initial.Nodes} NodeHaConfigs written | {Ms(initial.AllWritten.TotalMilliseconds)} ms (last write at {Ms(initial.LastWrite.TotalMilliseconds)} ms; {initial.Writes} writes for {initial.Nodes} nodes) | < 5 s: {Met(initial.LastWrite.TotalSeconds < 5)} |");
        if (initial.Idle is { } idle)
            md.AppendLine(Inv, $"| initial reconcile including status: operator start to its work queue idle (nothing waiting, nothing in process, then for {options.IdleQuiet.TotalSeconds:0.#} s; every group's finalizer and status and every pool's status written, the agents' first reports aggregated) | {Ms(idle.TotalMilliseconds)} ms | |");
        var busy = changes.Where(c => c.QueueAtStart is { Idle: false }).ToList();
        var steady = changes.Any(c => c.QueueAtStart is not null)
            ? $"each change made with the operator idle ({changes.Count - busy.Count} of {changes.Count} found its queue empty)"
            : "each change made 1.5 s after the last one had arrived (the operator's queue not read)";
        md.AppendLine(Inv, $"| change to every affected NodeHaConfig written, over {changes.Count} changes; {steady} | p50 {Ms(p50)} ms, p99 {Ms(p99)} ms, max {Ms(max)} ms | p99 < 200 ms: {Met(p99 < 200)} |");
        var initialCpu = initial.Idle is null
            ? $"initial reconcile (from its start, .NET start-up and JIT included) {initial.OperatorCpuMs.ToString("F0", Inv)} ms"
            : $"from its start (.NET start-up and JIT included) to all NodeHaConfigs written {initial.AllWrittenCpuMs.ToString("F0", Inv)} ms, to idle {initial.OperatorCpuMs.ToString("F0", Inv)} ms";
        var changeCpu = changes.Any(c => c.Idle is not null)
            ? $"per change, from the change to the operator idle again (the plan, the status of the groups and pools it touched, the agents' reports; /metrics scrapes while it was busy, {(double.IsNaN(scrapeCpuMs) ? "?" : scrapeCpuMs.ToString("F1", Inv))} ms each, polled every {options.IdlePoll.TotalMilliseconds:0} ms)"
            : "per change, to 1.5 s after the change arrived (the plan and the status of the groups and pools it touched)";
        md.AppendLine(Inv, $"| operator CPU time (utime + stime, 10 ms ticks) | {initialCpu}; {changeCpu}: p50 {Ms(Percentile(cpu, 50))} ms, p99 {Ms(Percentile(cpu, 99))} ms | |");
        md.AppendLine(Inv, $"| NodeHaConfig writes per change | {writes} writes for {affected} affected nodes over {changes.Count} changes ({(writes / (double)n).ToString("F2", Inv)} per change), {changes.Sum(c => c.WritesElsewhere)} on unaffected nodes | one per affected node: {Met(failures.Count == 0)} |");
        md.AppendLine(Inv, $"| operator API requests per change | {(operatorRequests.Values.Sum()).ToString("F1", Inv)}: {string.Join(", ", operatorRequests.OrderByDescending(r => r.Value).Select(r => $"{r.Key[(r.Key.IndexOf(' ') + 1)..]} {r.Value.ToString("0.##", Inv)}"))} | |");
        md.AppendLine(Inv, $"| simulated agents' and benchmark's requests per change | {(simRequests.Values.Sum()).ToString("F1", Inv)}: {string.Join(", ", simRequests.OrderByDescending(r => r.Value).Select(r => $"{r.Key[(r.Key.IndexOf(' ') + 1)..]} {r.Value.ToString("0.##", Inv)}"))} | |");
        md.AppendLine(Inv, $"| operator API requests during the initial reconcile{(initial.Idle is null ? "" : " (to idle)")} | {initialOperator} | |");
        md.AppendLine(Inv, $"| operator memory | VmHWM {Mb(hwmKb)} MB; VmRSS {Mb(rssAfterInitialKb)} MB after the initial reconcile, {Mb(rssEndKb)} MB at the end (peak sampled every 200 ms: {Mb(peakSampledKb)} MB) | < 150 MB: {Met(hwmKb < 150 * 1024)} |");
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
            initial = new { allWrittenMs = initial.AllWritten.TotalMilliseconds, lastWriteMs = initial.LastWrite.TotalMilliseconds, idleMs = initial.Idle?.TotalMilliseconds,
                initial.Writes, initial.Nodes, initial.Requests, cpuToAllWrittenMs = initial.AllWrittenCpuMs, cpuMs = initial.OperatorCpuMs },
            scrapeCpuMs,
            latencyMs = new { p50, p99, max },
            operatorCpuMs = new { initial = initial.OperatorCpuMs, perChangeP50 = Percentile(cpu, 50), perChangeP99 = Percentile(cpu, 99) },
            changes = changes.Select(c => new { c.Index, c.Description, latencyMs = c.Latency.TotalMilliseconds, cpuMs = c.OperatorCpuMs, idleMs = c.Idle?.TotalMilliseconds,
                queueAtStart = c.QueueAtStart?.ToString(), c.Affected, c.WritesOnAffected, c.WritesElsewhere, c.Requests }),
            operatorRequestsPerChange = operatorRequests,
            simulatorRequestsPerChange = simRequests,
            memoryKb = new { hwm = hwmKb, afterInitial = rssAfterInitialKb, end = rssEndKb, peakSampled = peakSampledKb },
            memoryBreakdown,
            agentStatusWrites = agents.Writes,
            failures,
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
        return new Report(text.ToString(), md.ToString(), json, failures);
    }
}
