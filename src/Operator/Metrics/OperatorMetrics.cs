using System.Diagnostics.Metrics;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Metrics;

/// <summary>
/// The operator's metrics (docs/metrics.md). Reconciles are counted and timed as they finish; the gauges read the work
/// queue, the leader election and the NodeHaConfig cache at scrape time, so nothing is kept twice. Names are final
/// Prometheus names; OpenTelemetry's exporter appends "_total" to counters and the unit ("_seconds").
/// </summary>
public sealed class OperatorMetrics : IDisposable
{
    public const string MeterName = "NginxHa.Operator";

    /// <summary>The kind label of a work queue key.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["plan", "virtualipgroup", "nginxbackendpool"];

    static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    readonly Meter _meter;
    readonly Counter<long> _reconciles;
    readonly Histogram<double> _duration;
    readonly Counter<long> _retries;
    Func<IReadOnlyList<string>> _queuedKeys = () => [];
    Func<bool> _isLeader = () => false;
    Func<IReadOnlyList<NodeHaConfigResource>> _configs = () => [];
    HeartbeatTracker? _heartbeats;
    Func<Core.Planning.PlanResult?> _plan = () => null;

    /// <summary><paramref name="meterName"/>: tests run several in one process; a listener subscribes by name.</summary>
    public OperatorMetrics(string meterName = MeterName)
    {
        _meter = new Meter(meterName);
        Name = meterName;
        _reconciles = _meter.CreateCounter<long>("nginx_ha_operator_reconciles", description: "Reconciles finished, by kind and result (success, error)");
        _duration = _meter.CreateHistogram("nginx_ha_operator_reconcile_duration", unit: "s", description: "Time per reconcile, by kind",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _retries = _meter.CreateCounter<long>("nginx_ha_operator_queue_retries", description: "Keys requeued after a failed reconcile, by kind");
        _meter.CreateObservableGauge("nginx_ha_operator_queue_depth", QueueDepth, description: "Keys waiting in the work queue, by kind");
        _meter.CreateObservableGauge("nginx_ha_operator_is_leader", () => _isLeader() ? 1 : 0,
            description: "1 on the replica that holds the Lease and reconciles (always 1 without leader election)");
        _meter.CreateObservableGauge("nginx_ha_operator_vips", Vips,
            description: "Virtual IPs by how many nodes report MASTER of them: no_master, one_master, several_masters");
        _meter.CreateObservableGauge("nginx_ha_operator_nodehaconfigs_out_of_date", () => OutOfDate(_configs()),
            description: "NodeHaConfigs whose agent has not yet reported applying the current generation");
        _meter.CreateObservableGauge("nginx_ha_operator_agent_heartbeat_expired", HeartbeatsExpired,
            description: "Per node with a heartbeat Lease: 1 when the agent's Lease expired (its reports are not counted), else 0");
        _meter.CreateObservableGauge("nginx_ha_operator_vrid_heard_conflicts", () => _plan()?.Groups.Sum(g => g.InstancesHeardFromOthers) ?? 0,
            description: "VRRP instances of the last plan whose VRID the agents hear from a router that is not theirs (VridConflict)");
    }

    public string Name { get; }

    /// <summary>Where the gauges read from: the queue's waiting keys, whether this replica leads, the NodeHaConfig cache, the
    /// agents' heartbeats, the last plan (only the leader plans).</summary>
    public void Attach(Func<IReadOnlyList<string>> queuedKeys, Func<bool> isLeader, Func<IReadOnlyList<NodeHaConfigResource>> configs,
        HeartbeatTracker? heartbeats = null, Func<Core.Planning.PlanResult?>? plan = null)
    {
        _plan = plan ?? (() => null);
        _queuedKeys = queuedKeys;
        _isLeader = isLeader;
        _configs = configs;
        _heartbeats = heartbeats;
    }

    IEnumerable<Measurement<int>> HeartbeatsExpired()
    {
        if (_heartbeats is not { } heartbeats) return [];
        var now = heartbeats.Now;
        return heartbeats.Snapshot().Select(h => new Measurement<int>(h.Value.ExpiredAt(now) ? 1 : 0, new KeyValuePair<string, object?>("node", h.Key)));
    }

    public static string KindOf(string key) =>
        key == OperatorController.PlanKey ? "plan"
        : key.StartsWith(OperatorController.GroupKeyPrefix, StringComparison.Ordinal) ? "virtualipgroup"
        : key.StartsWith(OperatorController.PoolKeyPrefix, StringComparison.Ordinal) ? "nginxbackendpool"
        : "other";

    /// <summary>One reconcile finished; a failed one is also a retry (the queue takes it again after its backoff).</summary>
    public void Reconciled(string key, TimeSpan duration, bool success)
    {
        var kind = new KeyValuePair<string, object?>("kind", KindOf(key));
        _reconciles.Add(1, kind, new("result", success ? "success" : "error"));
        _duration.Record(duration.TotalSeconds, kind);
        if (!success) _retries.Add(1, kind);
    }

    IEnumerable<Measurement<int>> QueueDepth()
    {
        var counts = _queuedKeys().GroupBy(KindOf).ToDictionary(g => g.Key, g => g.Count());
        return Kinds.Select(k => new Measurement<int>(counts.GetValueOrDefault(k), new KeyValuePair<string, object?>("kind", k)));
    }

    IEnumerable<Measurement<int>> Vips()
    {
        var heartbeats = _heartbeats;
        var now = heartbeats?.Now ?? default;
        var counts = VipsByState(_configs(), heartbeats is null ? null : node => heartbeats.Reporting(node, now));
        return
        [
            new(counts.NoMaster, new KeyValuePair<string, object?>("state", "no_master")),
            new(counts.OneMaster, new KeyValuePair<string, object?>("state", "one_master")),
            new(counts.SeveralMasters, new KeyValuePair<string, object?>("state", "several_masters")),
        ];
    }

    /// <summary>
    /// Pure: every VIP of every planned instance, by how many nodes report MASTER of its instance. As in the group status,
    /// a report counts only once its agent has applied the current generation, and only while <paramref name="reporting"/>
    /// says the node's heartbeat is alive (a SIGKILLed agent's last MASTER is no split brain).
    /// </summary>
    public static VipCounts VipsByState(IEnumerable<NodeHaConfigResource> configs, Func<string, bool>? reporting = null)
    {
        var vips = new Dictionary<string, int>(StringComparer.Ordinal);
        var masters = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var config in configs)
        {
            foreach (var instance in config.Spec?.VrrpInstances ?? []) vips[instance.Name] = instance.VirtualIPs.Count;
            if (config.Status is not { } status || status.ObservedGeneration != config.Metadata.Generation) continue;
            if (reporting is not null && !reporting(config.Metadata.Name)) continue;
            foreach (var reported in status.Instances.Where(i => i.State == VrrpInstanceState.Master))
                masters[reported.Name] = masters.GetValueOrDefault(reported.Name) + 1;
        }
        int none = 0, one = 0, several = 0;
        foreach (var (name, count) in vips)
        {
            switch (masters.GetValueOrDefault(name))
            {
                case 0: none += count; break;
                case 1: one += count; break;
                default: several += count; break;
            }
        }
        return new VipCounts(none, one, several);
    }

    /// <summary>Pure: NodeHaConfigs whose status has not caught up with their generation (no status at all counts).</summary>
    public static int OutOfDate(IEnumerable<NodeHaConfigResource> configs) =>
        configs.Count(c => c.Status?.ObservedGeneration != c.Metadata.Generation);

    public void Dispose() => _meter.Dispose();
}

public readonly record struct VipCounts(int NoMaster, int OneMaster, int SeveralMasters);
