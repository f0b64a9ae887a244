using System.Globalization;

namespace NginxHa.Bench.OperatorScale;

/// <summary>The operator's work queue at one moment: keys waiting for a worker and keys being reconciled, by kind
/// (its /metrics gauges <c>nginx_ha_operator_queue_depth</c> and <c>nginx_ha_operator_queue_in_process</c>).</summary>
public sealed record OperatorQueue(IReadOnlyDictionary<string, int> Waiting, IReadOnlyDictionary<string, int> InProcess)
{
    public int WaitingCount => Waiting.Values.Sum();
    public int InProcessCount => InProcess.Values.Sum();
    public bool Idle => WaitingCount == 0 && InProcessCount == 0;

    public override string ToString() => Idle ? "idle"
        : $"waiting {WaitingCount} ({Describe(Waiting)}), in process {InProcessCount} ({Describe(InProcess)})";

    private static string Describe(IReadOnlyDictionary<string, int> counts) =>
        string.Join(" ", counts.Where(c => c.Value > 0).OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value}"));

    /// <summary>From the operator's keys (in-process operator, the test).</summary>
    public static OperatorQueue FromKeys(IEnumerable<string> waiting, IEnumerable<string> inProcess) =>
        new(ByKind(waiting), ByKind(inProcess));

    private static Dictionary<string, int> ByKind(IEnumerable<string> keys) =>
        keys.GroupBy(Operator.Metrics.OperatorMetrics.KindOf).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);

    /// <summary>From a Prometheus text scrape of the operator's /metrics. Throws when a gauge is missing: an operator without
    /// them cannot be told idle.</summary>
    public static OperatorQueue Parse(string metrics)
    {
        var waiting = new Dictionary<string, int>(StringComparer.Ordinal);
        var inProcess = new Dictionary<string, int>(StringComparer.Ordinal);
        bool sawWaiting = false, sawInProcess = false;
        foreach (var line in metrics.Split('\n'))
        {
            var target = line.StartsWith("nginx_ha_operator_queue_depth{", StringComparison.Ordinal) ? waiting
                : line.StartsWith("nginx_ha_operator_queue_in_process{", StringComparison.Ordinal) ? inProcess : null;
            if (target is null) continue;
            var close = line.LastIndexOf('}');
            var kindAt = line.IndexOf("kind=\"", StringComparison.Ordinal);
            if (close < 0 || kindAt < 0) continue;
            var kind = line[(kindAt + 6)..line.IndexOf('"', kindAt + 6)];
            var value = line[(close + 1)..].Trim().Split(' ')[0];
            target[kind] = (int)double.Parse(value, CultureInfo.InvariantCulture);
            if (target == waiting) sawWaiting = true; else sawInProcess = true;
        }
        if (!sawWaiting || !sawInProcess)
            throw new InvalidOperationException("the operator's /metrics has no nginx_ha_operator_queue_depth or nginx_ha_operator_queue_in_process");
        return new OperatorQueue(waiting, inProcess);
    }
}
