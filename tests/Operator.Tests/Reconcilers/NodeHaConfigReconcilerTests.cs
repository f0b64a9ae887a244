using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>The plan's writes against a client whose requests never leave the process: what is written, and how many at once.</summary>
public class NodeHaConfigReconcilerTests
{
    /// <summary>Answers every server-side apply with the applied object at generation 1; counts requests and the most in flight.</summary>
    private sealed class ApplyServer(int releaseAt) : DelegatingHandler
    {
        private readonly TaskCompletionSource _enoughInFlight = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _inFlight, _maxInFlight, _requests;
        public int MaxInFlight => Volatile.Read(ref _maxInFlight);
        public int Requests => Volatile.Read(ref _requests);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _requests);
            var now = Interlocked.Increment(ref _inFlight);
            InterlockedMax(ref _maxInFlight, now);
            if (now >= releaseAt) _enoughInFlight.TrySetResult();
            try
            {
                // Held until releaseAt requests are in flight together: one at a time never gets there.
                await _enoughInFlight.Task.WaitAsync(TimeSpan.FromSeconds(20), cancellationToken);
                var body = JsonNode.Parse(await request.Content!.ReadAsStringAsync(cancellationToken))!.AsObject();
                body["metadata"]!["generation"] = 1;
                return new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json") };
            }
            finally { Interlocked.Decrement(ref _inFlight); }
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }
    }

    private static ClusterSnapshot Snapshot(int nodes, IReadOnlyList<NodeHaConfigResource>? configs = null) => new(
        [new VirtualIpGroupResource
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "edge", Generation = 1 },
            Spec = new VirtualIpGroupSpec
            {
                Mode = VirtualIpGroupMode.ActivePassive, VirtualIPs = ["198.18.0.201"],
                NodeSelector = new LabelSelector { MatchLabels = new() { ["role"] = "edge" } },
            },
        }],
        [],
        Enumerable.Range(1, nodes).Select(i => new V1Node
        {
            Metadata = new V1ObjectMeta { Name = $"lb{i}", Labels = new Dictionary<string, string> { ["role"] = "edge" } },
            Status = new V1NodeStatus { Addresses = [new V1NodeAddress { Type = "InternalIP", Address = $"198.18.0.{10 + i}" }] },
        }).ToList(),
        [], [], configs ?? [], new Dictionary<string, Heartbeat>());

    /// <summary>A reconciler writing through an <see cref="ApplyServer"/>; dispose the client.</summary>
    private static (NodeHaConfigReconciler Reconciler, ApplyServer Server, IKubernetes Client) Start(int releaseAt, int concurrency = NodeHaConfigReconciler.DefaultConcurrency)
    {
        var server = new ApplyServer(releaseAt);
        var client = new Kubernetes(new KubernetesClientConfiguration { Host = "http://127.0.0.1:1" }, server);
        return (new NodeHaConfigReconciler(client, new OperatorLog(TextWriter.Null, TimeProvider.System), concurrency), server, client);
    }

    /// <summary>The cache as the watch delivers it: each config with its spec as written, at generation 1.</summary>
    private static NodeHaConfigResource Cached(NodeHaConfig written) => new()
    {
        Metadata = new V1ObjectMeta { Name = written.Spec.NodeName, Generation = 1 },
        Spec = KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(written.Spec)),
    };

    [Fact]
    public async Task The_nodes_configs_are_written_in_parallel_up_to_the_limit()
    {
        var (reconciler, server, client) = Start(releaseAt: 3, concurrency: 3);
        using var _ = client;
        await reconciler.ReconcileAsync(Snapshot(nodes: 8), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(8, reconciler.Applies);
        Assert.Equal(8, server.Requests);
        Assert.Equal(3, server.MaxInFlight);
    }

    [Fact]
    public async Task Only_the_configs_that_differ_from_the_cache_are_written()
    {
        var (reconciler, server, client) = Start(releaseAt: 1);
        using var _ = client;
        var plan = await reconciler.ReconcileAsync(Snapshot(nodes: 4), CancellationToken.None);
        Assert.Equal(4, server.Requests);
        // The cache now holds what was written, except lb2's, which someone edited.
        var configs = plan.NodeConfigs.Select(Cached).ToList();
        configs.Single(c => c.Metadata.Name == "lb2").Spec.VrrpInstances[0].Priority = 1;
        await reconciler.ReconcileAsync(Snapshot(nodes: 4, configs), CancellationToken.None);
        Assert.Equal(5, server.Requests);
        Assert.Equal(5, reconciler.Applies);
    }

    [Fact]
    public async Task A_cache_that_holds_only_a_backups_new_config_does_not_move_the_preferred_master()
    {
        var (reconciler, server, client) = Start(releaseAt: 1);
        using var _ = client;
        var first = await reconciler.ReconcileAsync(Snapshot(nodes: 3), CancellationToken.None);
        Assert.Equal(3, server.Requests);
        // The watch has delivered lb2's config (a backup) but not yet lb1's (the preferred master) nor lb3's.
        var second = await reconciler.ReconcileAsync(Snapshot(nodes: 3, [Cached(first.NodeConfigs.Single(c => c.Spec.NodeName == "lb2"))]), CancellationToken.None);
        Assert.Equal(3, server.Requests); // nothing rewritten
        Assert.Equal(first.NodeConfigs.Select(c => KubernetesJson.Serialize(c.Spec)), second.NodeConfigs.Select(c => KubernetesJson.Serialize(c.Spec)));
    }

    [Fact]
    public async Task Only_the_generation_our_write_made_counts_as_our_own_write()
    {
        var (reconciler, _, client) = Start(releaseAt: 1);
        using var _ = client;
        var plan = await reconciler.ReconcileAsync(Snapshot(nodes: 2), CancellationToken.None); // the server answers generation 1
        var echo = Cached(plan.NodeConfigs[0]);
        Assert.True(reconciler.IsOwnWrite(echo)); // its arrival in the cache needs no new plan
        echo.Metadata.Generation = 2; // someone edited it after us
        Assert.False(reconciler.IsOwnWrite(echo));
        Assert.False(reconciler.IsOwnWrite(new NodeHaConfigResource { Metadata = new V1ObjectMeta { Name = "lb9", Generation = 1 } })); // never written by us
    }

    [Fact]
    public async Task A_plan_before_our_writes_echo_keeps_the_routers_the_agent_reported_hearing()
    {
        var (reconciler, _, client) = Start(releaseAt: 1);
        using var _ = client;
        var first = await reconciler.ReconcileAsync(Snapshot(nodes: 2), CancellationToken.None);
        var instance = first.NodeConfigs[0].Spec.VrrpInstances.Single();
        // The cache still holds lb2's config from before our write (no generation yet), with its agent's report: a foreign
        // router on our VRID. The plan counts our write in force, and must still read that report.
        var foreign = new HeardRouterStatus
        {
            Interface = instance.Interface, Source = "198.18.0.99", Family = "IPv4", VirtualRouterId = instance.VirtualRouterId, Version = 3,
            Addresses = ["198.18.0.250"], Priority = 100, LastHeard = DateTimeOffset.UtcNow,
        };
        var stale = new NodeHaConfigResource
        {
            Metadata = new V1ObjectMeta { Name = "lb2" }, Spec = new NodeHaConfigSpec { NodeName = "lb2" },
            Status = new NodeHaConfigStatus { HeardRouters = [foreign] },
        };
        var second = await reconciler.ReconcileAsync(Snapshot(nodes: 2, [stale]), CancellationToken.None);
        Assert.Equal(ConditionStatus.True, second.Groups.Single().Condition(ConditionTypes.Conflict)?.Status);
    }

    [Fact]
    public void A_specs_hash_follows_its_content_and_is_far_smaller_than_its_JSON()
    {
        var plan = NginxHa.Core.Planning.Planner.Plan(Snapshot(nodes: 2).ToPlanInput());
        var spec = plan.NodeConfigs[0].Spec;
        var copy = KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(spec));
        Assert.Equal(NodeHaConfigReconciler.SpecHash(spec), NodeHaConfigReconciler.SpecHash(copy));
        // Hashes are made once per spec object (specs are never changed once planned or cached): change a fresh copy.
        var changed = KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(spec));
        changed.VrrpInstances[0].Priority += 1;
        Assert.NotEqual(NodeHaConfigReconciler.SpecHash(spec), NodeHaConfigReconciler.SpecHash(changed));
        Assert.NotEqual(NodeHaConfigReconciler.SpecHash(plan.NodeConfigs[0].Spec), NodeHaConfigReconciler.SpecHash(plan.NodeConfigs[1].Spec));
        Assert.Equal(64, NodeHaConfigReconciler.SpecHash(spec).Length);
    }
}
