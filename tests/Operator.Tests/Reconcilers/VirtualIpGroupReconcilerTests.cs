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

        // The agent catches up; a later write (generation 3) gets a grace of its own, counted from when it is first seen.
        (status, _) = await ReconcileAsync(reconciler, api, late, Snapshot(lb1, Config("lb2", 2, 2, VrrpInstanceState.Backup)));
        Assert.Equal("False Redundant", Degraded(status));
        time.Advance(TimeSpan.FromSeconds(30));
        writes = reconciler.StatusWrites;
        (_, result) = await ReconcileAsync(reconciler, api, status, Snapshot(lb1, Config("lb2", 3, 2, VrrpInstanceState.Backup)));
        Assert.Equal(writes, reconciler.StatusWrites);
        Assert.Equal(ReconcileResult.After(TimeSpan.FromSeconds(10)), result);
    }
}
