using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>The group reconciler on a fake clock against a client whose requests never leave the process.</summary>
public class VirtualIpGroupReconcilerTests
{
    private static readonly PlanResult Plan = new([], [WebGroup.Plan()], [], [], []);

    /// <summary>A node's config at <paramref name="generation"/> whose agent last reported <paramref name="observed"/>.</summary>
    private static NodeHaConfigResource Config(string node, long generation, long observed, VrrpInstanceState state) => new()
    {
        Metadata = new V1ObjectMeta { Name = node, Generation = generation },
        Spec = new NodeHaConfigSpec { NodeName = node },
        Status = WebGroup.Reported(observed, state),
    };

    private static ClusterSnapshot Snapshot(params NodeHaConfigResource[] configs) => new([], [],
        new[] { "lb1", "lb2" }.Select(n => new V1Node
        {
            Metadata = new V1ObjectMeta { Name = n },
            Status = new V1NodeStatus { Conditions = [new V1NodeCondition { Type = "Ready", Status = "True" }] },
        }).ToList(),
        [], [], configs, new Dictionary<string, Heartbeat>());

    /// <summary>Reconciles the group as last written and returns the status as the API server now holds it.</summary>
    private static async Task<(VirtualIpGroupStatus? Status, ReconcileResult Result)> ReconcileAsync(VirtualIpGroupReconciler reconciler, RecordingApi api,
        VirtualIpGroupStatus? status, ClusterSnapshot snapshot)
    {
        var result = await reconciler.ReconcileAsync(WebGroup.Resource(status, [Kinds.VipsFinalizer]), snapshot, Plan, CancellationToken.None);
        var written = api.Requests.LastOrDefault(r => r.Method == "PATCH" && r.Path.EndsWith("/virtualipgroups/web/status", StringComparison.Ordinal));
        return (written.Body is null ? null : KubernetesJson.Deserialize<VirtualIpGroupStatus>(JsonNode.Parse(written.Body)!["status"]!.ToJsonString()), result);
    }

    private static string Degraded(VirtualIpGroupStatus? status) =>
        status?.Conditions.Single(c => c.Type == ConditionTypes.Degraded) is { } c ? $"{c.Status} {c.Reason}" : "none";

    [Fact]
    public async Task A_forgotten_group_keeps_no_last_write()
    {
        var time = new FakeTimeProvider(WebGroup.T0);
        using var api = new RecordingApi();
        var log = new OperatorLog(TextWriter.Null, time);
        var reconciler = new VirtualIpGroupReconciler(api.Client, new EventRecorder(api.Client, Kinds.FieldManager, "test", log, time), log, time);
        var (status, _) = await ReconcileAsync(reconciler, api, null, Snapshot(Config("lb1", 1, 1, VrrpInstanceState.Master)));
        Assert.NotNull(status);
        Assert.Equal(1, reconciler.RememberedGroups);

        reconciler.Forget(Kinds.Key(WebGroup.Resource(status, [Kinds.VipsFinalizer]).Metadata));
        Assert.Equal(0, reconciler.RememberedGroups);
    }

    [Fact]
    public async Task A_node_within_the_ApplyGrace_after_a_config_write_is_not_NodeNotReporting_and_is_once_it_has_passed()
    {
        var time = new FakeTimeProvider(WebGroup.T0);
        using var api = new RecordingApi();
        var log = new OperatorLog(TextWriter.Null, time);
        var reconciler = new VirtualIpGroupReconciler(api.Client, new EventRecorder(api.Client, Kinds.FieldManager, "test", log, time), log, time)
        {
            ApplyGrace = TimeSpan.FromSeconds(10),
        };
        var lb1 = Config("lb1", 1, 1, VrrpInstanceState.Master);
        var (status, result) = await ReconcileAsync(reconciler, api, null, Snapshot(lb1, Config("lb2", 1, 1, VrrpInstanceState.Backup)));
        Assert.Equal("False Redundant", Degraded(status));
        Assert.Equal(ReconcileResult.Done, result);

        // lb2's config is rewritten (generation 2); its agent has not reported it yet.
        var applying = Snapshot(lb1, Config("lb2", 2, 1, VrrpInstanceState.Backup));
        var writes = reconciler.StatusWrites;
        (_, result) = await ReconcileAsync(reconciler, api, status, applying);
        Assert.Equal(writes, reconciler.StatusWrites); // its last report stands: the status is unchanged
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(10)), result); // back when the grace ends

        time.Advance(TimeSpan.FromSeconds(9.9));
        (_, result) = await ReconcileAsync(reconciler, api, status, applying);
        Assert.Equal(writes, reconciler.StatusWrites);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(0.1)), result);

        time.Advance(TimeSpan.FromSeconds(0.1));
        var (late, lateResult) = await ReconcileAsync(reconciler, api, status, applying);
        Assert.Equal("True NodeNotReporting", Degraded(late));
        Assert.Contains("no current status from node(s) lb2", late!.Conditions.Single(c => c.Type == ConditionTypes.Degraded).Message);
        Assert.Equal("lb1", late.VirtualIPs.Single().MasterNode);
        Assert.Empty(late.VirtualIPs.Single().BackupNodes); // lb2's BACKUP no longer counts
        Assert.Equal(ReconcileResult.Done, lateResult);

        // The agent catches up (past the status interval since the last write); a later write (generation 3) gets a grace of
        // its own, counted from when it is first seen.
        time.Advance(reconciler.StatusInterval);
        (status, _) = await ReconcileAsync(reconciler, api, late, Snapshot(lb1, Config("lb2", 2, 2, VrrpInstanceState.Backup)));
        Assert.Equal("False Redundant", Degraded(status));
        time.Advance(TimeSpan.FromSeconds(30));
        writes = reconciler.StatusWrites;
        (_, result) = await ReconcileAsync(reconciler, api, status, Snapshot(lb1, Config("lb2", 3, 2, VrrpInstanceState.Backup)));
        Assert.Equal(writes, reconciler.StatusWrites);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(10)), result);
    }

    private static VirtualIpGroupReconciler Reconciler(RecordingApi api, FakeTimeProvider time)
    {
        var log = new OperatorLog(TextWriter.Null, time);
        return new VirtualIpGroupReconciler(api.Client, new EventRecorder(api.Client, Kinds.FieldManager, "test", log, time), log, time)
        {
            StatusInterval = TimeSpan.FromMilliseconds(500),
        };
    }

    private static string? Master(VirtualIpGroupStatus? status) => status?.VirtualIPs.Single().MasterNode;
    private static int StatusWrites(RecordingApi api) => api.Requests.Count(r => r.Path.EndsWith("/virtualipgroups/web/status", StringComparison.Ordinal));
    private static int Events(RecordingApi api, string reason) => api.Requests.Count(r => r.Path.Contains("/events", StringComparison.Ordinal) && r.Body.Contains(reason, StringComparison.Ordinal));

    [Fact]
    public async Task Reports_arriving_one_by_one_within_the_status_interval_make_one_write_at_its_end_with_the_latest_of_them()
    {
        var time = new FakeTimeProvider(WebGroup.T0);
        using var api = new RecordingApi();
        var reconciler = Reconciler(api, time);
        var (status, result) = await ReconcileAsync(reconciler, api, null, Snapshot(Config("lb1", 1, 1, VrrpInstanceState.Master), Config("lb2", 1, 1, VrrpInstanceState.Backup)));
        Assert.Equal("lb1", Master(status)); // the first write at once
        Assert.Equal(ReconcileResult.Done, result);

        // A failover: lb1's report (BACKUP) arrives first, then lb2's (MASTER).
        time.Advance(TimeSpan.FromMilliseconds(100));
        (_, result) = await ReconcileAsync(reconciler, api, status, Snapshot(Config("lb1", 1, 1, VrrpInstanceState.Backup), Config("lb2", 1, 1, VrrpInstanceState.Backup)));
        Assert.Equal(1, StatusWrites(api)); // no master for a moment: not written yet
        Assert.Equal(ReconcileResult.After(TimeSpan.FromMilliseconds(400)), result);

        time.Advance(TimeSpan.FromMilliseconds(200));
        var failedOver = Snapshot(Config("lb1", 1, 1, VrrpInstanceState.Backup), Config("lb2", 1, 1, VrrpInstanceState.Master));
        (_, result) = await ReconcileAsync(reconciler, api, status, failedOver);
        Assert.Equal(1, StatusWrites(api));
        Assert.Equal(ReconcileResult.After(TimeSpan.FromMilliseconds(200)), result);

        time.Advance(TimeSpan.FromMilliseconds(200)); // the queue brings the key back: whatever is current then is written
        var (latest, _) = await ReconcileAsync(reconciler, api, status, failedOver);
        Assert.Equal(2, StatusWrites(api));
        Assert.Equal("lb2", Master(latest));
        Assert.Equal(1, latest!.VirtualIPs.Single().Transitions);
        Assert.Equal(1, Events(api, GroupEvents.MasterChanged));
        Assert.Equal(0, Events(api, GroupReasons.NoMaster)); // the moment without a master never made it into the status
    }

    [Fact]
    public async Task A_status_equal_to_our_last_write_is_not_written_again_while_the_cache_still_holds_the_group_from_before_it()
    {
        var time = new FakeTimeProvider(WebGroup.T0);
        using var api = new RecordingApi();
        var version = 10;
        api.Respond = (method, path, _) => method == "PATCH" && path.EndsWith("/status", StringComparison.Ordinal)
            ? $$$"""{"metadata":{"resourceVersion":"{{{Interlocked.Increment(ref version)}}}"}}""" : "{}";
        var reconciler = Reconciler(api, time);
        async Task<VirtualIpGroupStatus?> Reconcile(VirtualIpGroupStatus? cached, string cachedVersion, ClusterSnapshot snapshot)
        {
            var group = WebGroup.Resource(cached, [Kinds.VipsFinalizer]);
            group.Metadata.ResourceVersion = cachedVersion;
            await reconciler.ReconcileAsync(group, snapshot, Plan, CancellationToken.None);
            var written = api.Requests.LastOrDefault(r => r.Path.EndsWith("/virtualipgroups/web/status", StringComparison.Ordinal));
            return written.Body is null ? null : KubernetesJson.Deserialize<VirtualIpGroupStatus>(JsonNode.Parse(written.Body)!["status"]!.ToJsonString());
        }

        var first = await Reconcile(null, "5", Snapshot(Config("lb1", 1, 1, VrrpInstanceState.Master), Config("lb2", 1, 1, VrrpInstanceState.Backup)));
        Assert.Equal(1, StatusWrites(api)); // resourceVersion 11

        time.Advance(TimeSpan.FromSeconds(1));
        var failedOver = Snapshot(Config("lb1", 1, 1, VrrpInstanceState.Backup), Config("lb2", 1, 1, VrrpInstanceState.Master));
        var second = await Reconcile(null, "5", failedOver); // the cache has seen neither write yet
        Assert.Equal(2, StatusWrites(api)); // resourceVersion 12
        Assert.Equal(1, second!.VirtualIPs.Single().Transitions); // counted from our first write, not from no status at all
        Assert.Equal(1, Events(api, GroupEvents.MasterChanged));

        time.Advance(TimeSpan.FromSeconds(1));
        await Reconcile(null, "5", failedOver); // another report, same news; the cache still from before
        await Reconcile(first, "11", failedOver); // the cache has caught up with the first write only
        Assert.Equal(2, StatusWrites(api));
        Assert.Equal(1, Events(api, GroupEvents.MasterChanged));

        await Reconcile(second, "12", failedOver); // caught up
        Assert.Equal(2, StatusWrites(api));

        var overwritten = KubernetesJson.Deserialize<VirtualIpGroupStatus>(KubernetesJson.Serialize(second));
        overwritten.VirtualIPs.Single().MasterNode = "lb1";
        await Reconcile(overwritten, "13", failedOver); // someone else wrote after us: the cache is the truth, and it is wrong
        Assert.Equal(3, StatusWrites(api));
    }
}
