using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.TestCluster.Tests.Clients;

/// <summary>
/// The operator's client (KubernetesClient) against the cluster's one URL, on what the operator will use:
/// list + watch with bookmarks on a stand-in kind, a Lease for leader election and an events.k8s.io Event
/// on the real server, server-side apply on the stand-in.
/// </summary>
[Collection("test cluster")]
public sealed class KubernetesClientTests(ClusterFixture cluster) : IDisposable
{
    readonly Kubernetes _client = new(KubernetesClientConfiguration.BuildConfigFromConfigFile(cluster.Kubeconfig));
    readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task List_then_watch_from_its_resourceVersion_sees_a_new_node()
    {
        var selector = $"run={_run}";
        var list = await _client.CoreV1.ListNodeAsync(labelSelector: selector);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = _client.CoreV1.WatchListNodeAsync(labelSelector: selector, resourceVersion: list.Metadata.ResourceVersion,
            allowWatchBookmarks: true, timeoutSeconds: 20, cancellationToken: cts.Token);

        var created = await _client.CoreV1.CreateNodeAsync(new V1Node
        {
            Metadata = new V1ObjectMeta { Name = $"lb-{_run}", Labels = new Dictionary<string, string> { ["run"] = _run } },
        });
        WatchEventType? type = null;
        V1Node? seen = null;
        await foreach (var (t, node) in events)
        {
            if (t == WatchEventType.Bookmark) continue;
            (type, seen) = (t, node);
            break;
        }

        Assert.Empty(list.Items);
        Assert.Equal(WatchEventType.Added, type);
        Assert.Equal(created.Metadata.Uid, seen!.Metadata.Uid);
        Assert.Equal(created.Metadata.ResourceVersion, seen.Metadata.ResourceVersion);
    }

    [Fact]
    public async Task Leader_election_on_a_Lease_takes_the_lease_and_writes_its_holder()
    {
        var lease = $"operator-{_run}";
        var elector = new LeaderElector(new LeaderElectionConfig(new LeaseLock(_client, "kube-system", lease, $"replica-{_run}"))
        {
            LeaseDuration = TimeSpan.FromSeconds(15),
            RenewDeadline = TimeSpan.FromSeconds(10),
            RetryPeriod = TimeSpan.FromSeconds(1),
        });
        var leading = new TaskCompletionSource();
        elector.OnStartedLeading += () => leading.TrySetResult();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var run = elector.RunUntilLeadershipLostAsync(cts.Token);

        await leading.Task.WaitAsync(cts.Token);
        var stored = await _client.CoordinationV1.ReadNamespacedLeaseAsync(lease, "kube-system");
        await cts.CancelAsync();
        try { await run; } catch (OperationCanceledException) { }

        Assert.Equal($"replica-{_run}", stored.Spec.HolderIdentity);
        Assert.Equal(15, stored.Spec.LeaseDurationSeconds);
        Assert.NotNull(stored.Spec.RenewTime);
    }

    [Fact]
    public async Task An_events_k8s_io_Event_is_stored_with_its_fields()
    {
        var created = await _client.EventsV1.CreateNamespacedEventAsync(new Eventsv1Event
        {
            Metadata = new V1ObjectMeta { GenerateName = "vipg-", NamespaceProperty = "default" },
            EventTime = DateTime.UtcNow,
            ReportingController = "nginx-ha.io/operator",
            ReportingInstance = $"operator-{_run}",
            Action = "Plan",
            Reason = "MasterChanged",
            Type = "Normal",
            Note = "VIP 198.18.0.10 moved to lb2",
            Regarding = new V1ObjectReference { Kind = "VirtualIpGroup", Name = $"edge-{_run}", NamespaceProperty = "default" },
        }, "default");

        var found = await _client.EventsV1.ListNamespacedEventAsync("default", fieldSelector: $"regarding.name=edge-{_run}");

        var e = Assert.Single(found.Items);
        Assert.Equal(created.Metadata.Name, e.Metadata.Name);
        Assert.StartsWith("vipg-", e.Metadata.Name);
        Assert.Equal("MasterChanged", e.Reason);
        Assert.Equal("VirtualIpGroup", e.Regarding.Kind);
    }

    [Fact]
    public async Task Server_side_apply_creates_then_updates_a_ConfigMap()
    {
        var name = $"applied-{_run}";
        string Body(string value) =>
            $$$"""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"{{{name}}}","namespace":"default"},"data":{"key":"{{{value}}}"}}""";

        var created = await _client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(Body("one"), V1Patch.PatchType.ApplyPatch), name, "default", fieldManager: "nginx-ha-operator");
        var updated = await _client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch(Body("two"), V1Patch.PatchType.ApplyPatch), name, "default", fieldManager: "nginx-ha-operator");

        Assert.Equal("one", created.Data["key"]);
        Assert.Equal("two", updated.Data["key"]);
        Assert.Equal(created.Metadata.Uid, updated.Metadata.Uid);
        Assert.True(long.Parse(updated.Metadata.ResourceVersion) > long.Parse(created.Metadata.ResourceVersion));
    }

    public void Dispose() => _client.Dispose();
}
