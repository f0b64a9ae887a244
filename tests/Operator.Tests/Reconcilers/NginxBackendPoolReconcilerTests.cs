using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>The pool reconciler on a fake clock against a client whose requests never leave the process.</summary>
public class NginxBackendPoolReconcilerTests
{
    private static NginxBackendPoolResource Pool(NginxBackendPoolStatus? status, string resourceVersion) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "edge", Generation = 1, ResourceVersion = resourceVersion },
        Spec = new NginxBackendPoolSpec { Backends = new Backends { Servers = [new BackendServer { Address = "198.18.1.10", Port = 8080 }] } },
        Status = status,
    };

    private static ClusterSnapshot Snapshot(params string[] nodesCarryingIt) => new(
        [new VirtualIpGroupResource
        {
            Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "edge", Generation = 1 },
            Spec = new VirtualIpGroupSpec { VirtualIPs = ["198.18.0.201"], BackendPoolRef = "web" },
        }],
        [], [], [], [],
        nodesCarryingIt.Select(n => new NodeHaConfigResource
        {
            Metadata = new V1ObjectMeta { Name = n, Generation = 1 },
            Spec = new NodeHaConfigSpec { NodeName = n, BackendPools = [new BackendPoolConfig { Name = "edge/web" }] },
        }).ToList(),
        new Dictionary<string, Heartbeat>());

    [Fact]
    public async Task A_status_equal_to_our_last_write_is_not_written_again_while_the_cache_still_holds_the_pool_from_before_it()
    {
        var time = new FakeTimeProvider(WebGroup.T0);
        using var api = new RecordingApi();
        var version = 10;
        api.Respond = (method, path, _) => method == "PATCH" && path.EndsWith("/status", StringComparison.Ordinal)
            ? $$$"""{"metadata":{"resourceVersion":"{{{Interlocked.Increment(ref version)}}}"}}""" : "{}";
        var log = new OperatorLog(TextWriter.Null, time);
        var reconciler = new NginxBackendPoolReconciler(api.Client, new EventRecorder(api.Client, Kinds.FieldManager, "test", log, time), time);
        int Writes() => api.Requests.Count(r => r.Path.EndsWith("/nginxbackendpools/web/status", StringComparison.Ordinal));
        NginxBackendPoolStatus LastWritten() => KubernetesJson.Deserialize<NginxBackendPoolStatus>(
            JsonNode.Parse(api.Requests.Last(r => r.Path.EndsWith("/nginxbackendpools/web/status", StringComparison.Ordinal)).Body)!["status"]!.ToJsonString());

        await reconciler.ReconcileAsync(Pool(null, "5"), Snapshot("lb1", "lb2"), CancellationToken.None);
        Assert.Equal(1, Writes()); // resourceVersion 11
        var written = LastWritten();
        Assert.Equal(["lb1", "lb2"], written.Nodes);

        // An agent's report requeues the pool before our write's echo has reached the cache.
        await reconciler.ReconcileAsync(Pool(null, "5"), Snapshot("lb1", "lb2"), CancellationToken.None);
        Assert.Equal(1, Writes());

        // Something else changed while the cache is still behind: written at once.
        await reconciler.ReconcileAsync(Pool(null, "5"), Snapshot("lb1"), CancellationToken.None);
        Assert.Equal(2, Writes()); // resourceVersion 12

        // Someone else wrote the status after us: the cache (newer) is compared, and ours goes back.
        await reconciler.ReconcileAsync(Pool(written, "13"), Snapshot("lb1"), CancellationToken.None);
        Assert.Equal(3, Writes());
        Assert.Equal(["lb1"], LastWritten().Nodes);
    }
}
