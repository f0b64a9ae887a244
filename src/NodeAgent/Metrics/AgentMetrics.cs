using System.Diagnostics.Metrics;
using System.Globalization;
using NginxHa.NodeAgent.Vrrp;

namespace NginxHa.NodeAgent.Metrics;

/// <summary>
/// The agent's metrics (docs/metrics.md): one <see cref="Meter"/> whose observable instruments read the registered
/// instances and nginx at scrape time, so the speakers pay one interlocked add per event and nothing per scrape.
/// Names are final Prometheus names; OpenTelemetry's exporter appends "_total" to counters and the unit ("_seconds").
/// </summary>
public sealed class AgentMetrics : IDisposable
{
    public const string MeterName = "NginxHa.NodeAgent";

    readonly Meter _meter;
    readonly List<VrrpInstanceMetrics> _instances = [];

    /// <summary>Drop reasons reported as invalid packets; authentication failures have their own counter.</summary>
    public static readonly IReadOnlyList<VrrpDropReason> InvalidPacketReasons = Enum.GetValues<VrrpDropReason>()
        .Where(r => r is not (VrrpDropReason.Ok or VrrpDropReason.AuthTypeMismatch or VrrpDropReason.AuthenticationFailed)).ToArray();

    /// <summary>
    /// <paramref name="meterName"/>: a listener subscribes by name, so two AgentMetrics in one process (tests) need
    /// different names to be served apart; the agent has one and keeps the default.
    /// </summary>
    public AgentMetrics(string meterName = MeterName)
    {
        _meter = new Meter(meterName);
        _meter.CreateObservableGauge("nginx_ha_vrrp_state", () => PerInstance(i => (int)i.State),
            description: "VRRP state: 0 initialize, 1 backup, 2 master, 3 fault");
        _meter.CreateObservableGauge("nginx_ha_vrrp_priority", () => PerInstance(i => i.EffectivePriority),
            description: "Priority this router advertises now (0 in fault or stopped)");
        _meter.CreateObservableGauge("nginx_ha_vrrp_last_transition_age", () => PerInstance(i => i.SinceLastTransition.TotalSeconds),
            unit: "s", description: "Seconds since the last state change (or since the instance started)");
        _meter.CreateObservableCounter("nginx_ha_vrrp_transitions", Transitions,
            description: "State changes by from, to and reason");
        _meter.CreateObservableCounter("nginx_ha_vrrp_adverts_sent", () => PerInstance(i => i.AdvertsSent),
            description: "Advertisements sent (priority 0 hand-overs included)");
        _meter.CreateObservableCounter("nginx_ha_vrrp_adverts_received", () => PerInstance(i => i.AdvertsReceived),
            description: "Valid advertisements received from other routers of this virtual router");
        _meter.CreateObservableCounter("nginx_ha_vrrp_invalid_packets", InvalidPackets,
            description: "Received VRRP packets dropped, by reason (authentication failures apart)");
        _meter.CreateObservableCounter("nginx_ha_vrrp_auth_failures", AuthFailures,
            description: "Advertisements for this VRID dropped for authentication: type mismatch or wrong password");
        _meter.CreateObservableCounter("nginx_ha_vrrp_vrid_conflicts", Conflicts,
            description: "Advertisements with this VRID but another VIP set, version or authentication");
        _meter.CreateObservableCounter("nginx_ha_vrrp_split_brain_seen", () => PerInstance(i => i.SplitBrainSeen),
            description: "Adverts of another router received while this node stays MASTER of the same VRID");
        _meter.CreateObservableGauge("nginx_ha_vrrp_vips_bound", () => PerInstance(i => i.VipsBound),
            description: "Virtual addresses of the instance bound on this node");
        _meter.CreateObservableCounter("nginx_ha_vrrp_gratuitous_announcements", () => PerInstance(i => i.Announcements),
            description: "Gratuitous ARPs (IPv4) and unsolicited neighbor advertisements (IPv6) sent, one per address");
        _meter.CreateObservableGauge("nginx_ha_vrrp_peers", () => PerInstance(i => i.Peers().Count),
            description: "Other routers of this virtual router heard within the last master-down interval");
        _meter.CreateObservableGauge("nginx_ha_vrrp_peer_priority", PeerPriorities,
            description: "Last priority heard from each peer of this virtual router (at most 8 peers per instance)");

        _meter.CreateObservableGauge<int>("nginx_ha_nginx_up", () => Nginx.Supervised ? [new Measurement<int>(Nginx.Up ? 1 : 0)] : [],
            description: "1 while the supervised nginx serves");
        _meter.CreateObservableCounter<long>("nginx_ha_nginx_restarts", () => Nginx.Supervised ? [new Measurement<long>(Nginx.Restarts)] : [],
            description: "nginx masters started after the first one (crash restarts)");
        _meter.CreateObservableCounter("nginx_ha_nginx_reloads", Reloads,
            description: "Rendered configs applied, by result: reloaded, unchanged, rejected (by nginx -t)");
        _meter.CreateObservableGauge("nginx_ha_nginx_config_info", ConfigInfo,
            description: "1, labelled with the hash of the nginx.conf applied last");
        _meter.CreateObservableCounter("nginx_ha_config_rejected", Rejections,
            description: "Configs rejected, by stage: manifest, nginx_test, vrrp; the last good config keeps serving");
    }

    /// <summary>
    /// Series each instrument may keep (OpenTelemetry's cardinality limit), from its label space: per instance, room for
    /// <see cref="MaxInstances"/> (a full interface and family of VRIDs) times the label values each instance reports.
    /// The SDK allocates that many points per instrument up front, about 100 bytes each: its default of 2000 for all 19
    /// instruments held 3.8 MB of the agent's heap (docs/benchmarks.md, "Metrics cost"), and was too small anyway for
    /// invalid packets past 142 instances. The config hash gets a new series per config applied: the default 2000.
    /// Past a limit the SDK reports the excess in one series labelled otel_metric_overflow="true".
    /// </summary>
    public static readonly IReadOnlyDictionary<string, int> SeriesLimits = new Dictionary<string, int>
    {
        ["nginx_ha_vrrp_state"] = MaxInstances,
        ["nginx_ha_vrrp_priority"] = MaxInstances,
        ["nginx_ha_vrrp_last_transition_age"] = MaxInstances,
        ["nginx_ha_vrrp_adverts_sent"] = MaxInstances,
        ["nginx_ha_vrrp_adverts_received"] = MaxInstances,
        ["nginx_ha_vrrp_split_brain_seen"] = MaxInstances,
        ["nginx_ha_vrrp_vips_bound"] = MaxInstances,
        ["nginx_ha_vrrp_gratuitous_announcements"] = MaxInstances,
        ["nginx_ha_vrrp_peers"] = MaxInstances,
        // from, to and reason: the state machine's transitions, and "other" for a reason it does not name.
        ["nginx_ha_vrrp_transitions"] = (TransitionReasons.Possible.Count + 3) * MaxInstances,
        ["nginx_ha_vrrp_invalid_packets"] = InvalidPacketReasons.Count * MaxInstances,
        ["nginx_ha_vrrp_auth_failures"] = 2 * MaxInstances,
        ["nginx_ha_vrrp_vrid_conflicts"] = Enum.GetValues<VridConflictKind>().Length * MaxInstances,
        ["nginx_ha_vrrp_peer_priority"] = VrrpInstanceMetrics.MaxPeers * MaxInstances,
        ["nginx_ha_nginx_config_info"] = 2000,
        ["nginx_ha_nginx_up"] = NginxSeries,
        ["nginx_ha_nginx_restarts"] = NginxSeries,
        ["nginx_ha_nginx_reloads"] = NginxSeries,
        ["nginx_ha_config_rejected"] = NginxSeries,
    };

    /// <summary>Instances whose series the limits hold (over the process's life: a renamed instance is a new one).</summary>
    public const int MaxInstances = 256;
    const int NginxSeries = 8;

    public NginxMetrics Nginx { get; } = new();

    /// <summary>The name the metrics server subscribes to.</summary>
    public string Name => _meter.Name;

    public VrrpInstanceMetrics[] Instances
    {
        get
        {
            lock (_instances) return _instances.ToArray();
        }
    }

    /// <summary>Adds a running instance's metrics; the returned handle removes them when the instance stops.</summary>
    public IDisposable Register(VrrpInstanceMetrics instance)
    {
        lock (_instances) _instances.Add(instance);
        return new Registration(this, instance);
    }

    sealed class Registration(AgentMetrics owner, VrrpInstanceMetrics instance) : IDisposable
    {
        public void Dispose()
        {
            lock (owner._instances) owner._instances.Remove(instance);
        }
    }

    static KeyValuePair<string, object?>[] Labels(VrrpInstanceMetrics i) =>
    [
        new("vrrp_instance", i.Name),
        new("vrid", i.VirtualRouterId.ToString(CultureInfo.InvariantCulture)),
        new("interface", i.Interface),
    ];

    static KeyValuePair<string, object?>[] Labels(VrrpInstanceMetrics i, string name, string value) => [.. Labels(i), new(name, value)];

    IEnumerable<Measurement<T>> PerInstance<T>(Func<VrrpInstanceMetrics, T> read) where T : struct =>
        Instances.Select(i => new Measurement<T>(read(i), Labels(i)));

    IEnumerable<Measurement<long>> Transitions() =>
        Instances.SelectMany(i => i.Transitions().Select(t => new Measurement<long>(t.Value,
        [
            .. Labels(i),
            new("from", TransitionReasons.Label(t.Key.From)),
            new("to", TransitionReasons.Label(t.Key.To)),
            new("reason", t.Key.Reason),
        ])));

    IEnumerable<Measurement<long>> InvalidPackets() =>
        Instances.SelectMany(i => InvalidPacketReasons.Select(r => new Measurement<long>(i.Dropped(r), Labels(i, "reason", DropLabel(r)))));

    IEnumerable<Measurement<long>> AuthFailures() =>
        Instances.SelectMany(i => new[]
        {
            new Measurement<long>(i.Dropped(VrrpDropReason.AuthTypeMismatch), Labels(i, "reason", "type_mismatch")),
            new Measurement<long>(i.Dropped(VrrpDropReason.AuthenticationFailed), Labels(i, "reason", "password")),
        });

    IEnumerable<Measurement<long>> Conflicts() =>
        Instances.SelectMany(i => Enum.GetValues<VridConflictKind>().Select(k =>
            new Measurement<long>(i.Conflicts(k), Labels(i, "kind", ConflictLabel(k)))));

    IEnumerable<Measurement<int>> PeerPriorities() =>
        Instances.SelectMany(i => i.Peers().Select(p => new Measurement<int>(p.Priority, Labels(i, "peer", p.Address.ToString()))));

    IEnumerable<Measurement<long>> Reloads() => Nginx.Supervised
        ? NginxMetrics.ReloadResults.Select(r => new Measurement<long>(Nginx.Reloads(r), new KeyValuePair<string, object?>("result", r)))
        : [];

    IEnumerable<Measurement<int>> ConfigInfo() => Nginx.ConfigHash is { } hash
        ? [new Measurement<int>(1, new KeyValuePair<string, object?>("hash", hash))]
        : [];

    IEnumerable<Measurement<long>> Rejections() =>
        Enum.GetValues<ConfigRejectionStage>().Select(s => new Measurement<long>(Nginx.Rejected(s), new KeyValuePair<string, object?>("stage", StageLabel(s))));

    /// <summary>snake_case of the enum name: bounded, and stable because the enum's values are fixed.</summary>
    public static string DropLabel(VrrpDropReason reason) => SnakeCase(reason.ToString());

    public static string ConflictLabel(VridConflictKind kind) => SnakeCase(kind.ToString());

    public static string StageLabel(ConfigRejectionStage stage) => SnakeCase(stage.ToString());

    static string SnakeCase(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) builder.Append('_');
            builder.Append(char.ToLowerInvariant(name[i]));
        }
        return builder.ToString();
    }

    public void Dispose() => _meter.Dispose();
}
