using System.Diagnostics.Metrics;
using k8s.Models;
using NginxHa.Core.Resources;
using NginxHa.Operator.Metrics;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Metrics;

public class OperatorMetricsTests
{
    private static NodeHaConfigResource Config(string node, long generation, long? observed, params (string Instance, int Vips, VrrpInstanceState? State)[] instances) => new()
    {
        Metadata = new V1ObjectMeta { Name = node, Generation = generation },
        Spec = new NodeHaConfigSpec
        {
            NodeName = node,
            VrrpInstances = instances.Select(i => new VrrpInstanceConfig
            {
                Name = i.Instance, Group = "edge/web", VirtualRouterId = 51,
                VirtualIPs = Enumerable.Range(1, i.Vips).Select(n => $"198.18.0.{200 + n}/24").ToList(),
            }).ToList(),
        },
        Status = observed is null ? null : new NodeHaConfigStatus
        {
            ObservedGeneration = observed,
            Instances = instances.Where(i => i.State is not null).Select(i => new VrrpInstanceStatus { Name = i.Instance, State = i.State!.Value }).ToList(),
        },
    };

    [Fact]
    public void VIPs_are_counted_by_how_many_current_reports_say_MASTER_of_their_instance()
    {
        var configs = new[]
        {
            // web/0 (2 VIPs): lb1 MASTER, lb2 BACKUP -> one master. web/1 (1 VIP): both MASTER -> several.
            // web/2 (3 VIPs): MASTER only in lb2's report of an older generation -> no master (it does not count yet).
            Config("lb1", 4, 4, ("edge/web/0", 2, VrrpInstanceState.Master), ("edge/web/1", 1, VrrpInstanceState.Master), ("edge/web/2", 3, VrrpInstanceState.Backup)),
            Config("lb2", 5, 4, ("edge/web/0", 2, VrrpInstanceState.Backup), ("edge/web/1", 1, VrrpInstanceState.Master), ("edge/web/2", 3, VrrpInstanceState.Master)),
            Config("lb3", 2, 2, ("edge/web/1", 1, VrrpInstanceState.Master)),
        };
        Assert.Equal(new VipCounts(NoMaster: 3, OneMaster: 2, SeveralMasters: 1), OperatorMetrics.VipsByState(configs));
    }

    [Fact]
    public void The_reports_of_a_node_whose_heartbeat_expired_count_for_no_VIP()
    {
        var configs = new[]
        {
            Config("lb1", 4, 4, ("edge/web/0", 2, VrrpInstanceState.Master), ("edge/web/1", 1, VrrpInstanceState.Master)),
            Config("lb2", 4, 4, ("edge/web/0", 2, VrrpInstanceState.Backup), ("edge/web/1", 1, VrrpInstanceState.Master)),
        };
        Assert.Equal(new VipCounts(NoMaster: 0, OneMaster: 2, SeveralMasters: 1), OperatorMetrics.VipsByState(configs));
        // lb1 SIGKILLed: its last MASTER reports are no split brain and master nothing.
        Assert.Equal(new VipCounts(NoMaster: 2, OneMaster: 1, SeveralMasters: 0), OperatorMetrics.VipsByState(configs, node => node != "lb1"));
    }

    [Fact]
    public void The_heartbeat_gauge_says_1_per_node_whose_Lease_expired_and_0_per_node_alive()
    {
        var name = $"test.{Guid.NewGuid():N}";
        using var metrics = new OperatorMetrics(name);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));
        using var heartbeats = new HeartbeatTracker(time);
        V1Lease Lease(string node) => new()
        {
            Metadata = new V1ObjectMeta { Name = $"nginx-ha-agent-{node}" },
            Spec = new V1LeaseSpec { LeaseDurationSeconds = 6, RenewTime = time.GetUtcNow().UtcDateTime },
        };
        heartbeats.Observe(Lease("lb1"));
        heartbeats.Observe(Lease("lb2"));
        metrics.Attach(() => [], () => true, () => [Config("lb1", 1, 1, ("edge/web/0", 1, VrrpInstanceState.Master)), Config("lb2", 1, 1, ("edge/web/0", 1, VrrpInstanceState.Master))], heartbeats);
        var seen = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == name) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<int>((i, v, t, _) =>
            seen.Add($"{i.Name}{{{string.Join(",", t.ToArray().Select(p => $"{p.Key}={p.Value}"))}}} {v}"));
        listener.Start();

        time.Advance(TimeSpan.FromSeconds(4));
        heartbeats.Observe(Lease("lb2"));
        time.Advance(TimeSpan.FromSeconds(3)); // lb1 last renewed 7 s ago, lb2 3 s ago
        listener.RecordObservableInstruments();

        Assert.Contains("nginx_ha_operator_agent_heartbeat_expired{node=lb1} 1", seen);
        Assert.Contains("nginx_ha_operator_agent_heartbeat_expired{node=lb2} 0", seen);
        Assert.Contains("nginx_ha_operator_vips{state=one_master} 1", seen); // lb1's MASTER no longer counts
        Assert.Contains("nginx_ha_operator_vips{state=several_masters} 0", seen);
    }

    [Fact]
    public void A_NodeHaConfig_is_out_of_date_until_its_agent_reports_its_generation()
    {
        var configs = new[] { Config("lb1", 4, 4), Config("lb2", 5, 4), Config("lb3", 1, null) };
        Assert.Equal(2, OperatorMetrics.OutOfDate(configs));
    }

    [Theory]
    [InlineData("plan", "plan")]
    [InlineData("vipg:edge/web", "virtualipgroup")]
    [InlineData("nbp:edge/web", "nginxbackendpool")]
    public void A_queue_key_is_labelled_by_its_kind(string key, string kind) => Assert.Equal(kind, OperatorMetrics.KindOf(key));

    [Fact]
    public void Reconciles_are_counted_by_kind_and_result_a_failure_is_a_retry_and_the_gauges_read_their_sources()
    {
        var name = $"test.{Guid.NewGuid():N}";
        using var metrics = new OperatorMetrics(name);
        var leader = false;
        var plan = new NginxHa.Core.Planning.PlanResult([], [new("edge/a", [], [], InstancesHeardFromOthers: 2), new("edge/b", [], [], InstancesHeardFromOthers: 1)], [], [], []);
        metrics.Attach(() => ["plan", "vipg:edge/a", "vipg:edge/b"], () => leader, () => [Config("lb1", 2, 1, ("edge/web/0", 2, VrrpInstanceState.Master))], plan: () => plan);
        var seen = new List<(string Instrument, double Value, string Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == name) l.EnableMeasurementEvents(instrument); };
        void Record(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
            seen.Add((i.Name, v, string.Join(",", tags.ToArray().Select(t => $"{t.Key}={t.Value}"))));
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        metrics.Reconciled("vipg:edge/a", TimeSpan.FromMilliseconds(30), success: true);
        metrics.Reconciled("plan", TimeSpan.FromMilliseconds(5), success: false);
        listener.RecordObservableInstruments();
        leader = true;
        listener.RecordObservableInstruments();

        Assert.Contains(("nginx_ha_operator_reconciles", 1, "kind=virtualipgroup,result=success"), seen);
        Assert.Contains(("nginx_ha_operator_reconciles", 1, "kind=plan,result=error"), seen);
        Assert.Contains(("nginx_ha_operator_reconcile_duration", 0.03, "kind=virtualipgroup"), seen);
        Assert.Equal([("nginx_ha_operator_queue_retries", 1d, "kind=plan")], seen.Where(s => s.Instrument == "nginx_ha_operator_queue_retries"));
        Assert.Contains(("nginx_ha_operator_queue_depth", 2, "kind=virtualipgroup"), seen);
        Assert.Contains(("nginx_ha_operator_queue_depth", 1, "kind=plan"), seen);
        Assert.Contains(("nginx_ha_operator_queue_depth", 0, "kind=nginxbackendpool"), seen);
        Assert.Equal([0d, 1d], seen.Where(s => s.Instrument == "nginx_ha_operator_is_leader").Select(s => s.Value));
        Assert.Contains(("nginx_ha_operator_vips", 2, "state=no_master"), seen); // generation 2 not yet reported
        Assert.Contains(("nginx_ha_operator_nodehaconfigs_out_of_date", 1, ""), seen);
        Assert.Contains(("nginx_ha_operator_vrid_heard_conflicts", 3, ""), seen);
    }
}
