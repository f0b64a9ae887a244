using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Time.Testing;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>
/// The operator remembers by object, not by content: a spec's hash (<see cref="NodeHaConfigReconciler.SpecHash"/>), the plan
/// input's fingerprints (<see cref="PlanInputCache"/>) and the planner's reuse of an earlier plan
/// (<see cref="Planner.Plan(PlanInput, PlanResult)"/>) are made once per object and are right only while no object read from an
/// informer cache, and no plan once made, is ever changed. Nothing in the types stops a change, so this test runs every
/// reconciler (plan, group status, finalizer and release, pool status, DNSEndpoint) over four snapshots of a cluster as its
/// caches move on, and proves that each cached object and each plan still serializes, as the hashes and fingerprints read it
/// (KubernetesJson), to the text it had when first seen, and that every spec's memoized hash is still that of its content.
/// </summary>
public class CachedObjectsStayUnchangedTests
{
    private static readonly DateTimeOffset T0 = WebGroup.T0;

    /// <summary>
    /// Every object seen so far, by reference, with its JSON when first seen; and every NodeHaConfig spec, whose memoized
    /// hash must stay the hash of its content (a plan's specs are first seen after the reconciler that made and wrote them).
    /// </summary>
    private sealed class Witness
    {
        private readonly Dictionary<object, (string Label, string Json)> _seen = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<NodeHaConfigSpec, string> _specs = new(ReferenceEqualityComparer.Instance);

        public void See(string label, object item) => _seen.TryAdd(item, (label, KubernetesJson.Serialize(item)));

        public void See(string label, PlanResult plan)
        {
            See(label, (object)plan);
            foreach (var config in plan.NodeConfigs) _specs.TryAdd(config.Spec, $"{label}: {config.Spec.NodeName}");
        }

        public void See(ClusterSnapshot snapshot)
        {
            foreach (var g in snapshot.Groups) See($"VirtualIpGroup {Kinds.Key(g.Metadata)}", g);
            foreach (var p in snapshot.Pools) See($"NginxBackendPool {Kinds.Key(p.Metadata)}", p);
            foreach (var n in snapshot.Nodes) See($"Node {n.Metadata.Name}", n);
            foreach (var s in snapshot.EndpointSlices) See($"EndpointSlice {Kinds.Key(s.Metadata)}", s);
            foreach (var s in snapshot.Secrets) See($"Secret {Kinds.Key(s.Metadata)}", s);
            foreach (var c in snapshot.Configs)
            {
                See($"NodeHaConfig {c.Metadata.Name}", c);
                _specs.TryAdd(c.Spec, $"NodeHaConfig {c.Metadata.Name}");
            }
            See("heartbeats", snapshot.Heartbeats);
        }

        public int Count => _seen.Count;

        public void AssertUnchanged(string after)
        {
            foreach (var (item, (label, json)) in _seen)
            {
                var now = KubernetesJson.Serialize(item);
                Assert.True(json == now, $"{after}: {label} was changed in place\nbefore {json}\nafter  {now}");
            }
            foreach (var (spec, label) in _specs)
            {
                // A copy is a new object: its hash is made now, from the content.
                var fresh = NodeHaConfigReconciler.SpecHash(KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(spec)));
                Assert.True(fresh == NodeHaConfigReconciler.SpecHash(spec), $"{after}: the spec of {label} was changed after its hash was made");
            }
        }
    }

    /// <summary>A server-side apply of a NodeHaConfig is answered with the object at generation 1 (the reconciler reads it back).</summary>
    private static string Answer(string method, string path, string body)
    {
        if (method != "PATCH" || !path.Contains("/nodehaconfigs/", StringComparison.Ordinal) || path.EndsWith("/status", StringComparison.Ordinal)) return "{}";
        var written = JsonNode.Parse(body)!.AsObject();
        written["metadata"]!["generation"] = 1;
        return written.ToJsonString();
    }

    private static T Parse<T>(string json) => KubernetesJson.Deserialize<T>(json);

    private static readonly string DeletedAt = $", \"deletionTimestamp\": \"{T0.AddSeconds(-5):yyyy-MM-dd'T'HH:mm:ss'Z'}\"";
    private static readonly string Finalized = $$""", "finalizers": ["{{Kinds.VipsFinalizer}}"]""";

    /// <summary>A group in namespace edge; <paramref name="metadata"/>: more metadata fields, each after a comma.</summary>
    private static VirtualIpGroupResource Group(string name, string spec, string metadata = "", string status = "null", int generation = 1) => Parse<VirtualIpGroupResource>($$"""
        {"metadata": {"name": "{{name}}", "namespace": "edge", "uid": "uid-{{name}}", "resourceVersion": "7", "generation": {{generation}}{{metadata}}},
         "spec": {{spec}}, "status": {{status}}}
        """);

    private static VirtualIpGroupResource Web(string metadata = "") => Group("web",
        """
        {"mode": "ActivePassive", "virtualIPs": ["198.18.0.201/24"], "nodeSelector": {"matchLabels": {"role": "edge"}},
         "vrrp": {"version": 2, "authSecretRef": {"name": "vrrp-auth", "key": "password"}}, "backendPoolRef": "web"}
        """,
        $$""", "labels": {"tier": "front"}, "annotations": {"{{DnsEndpoints.NameAnnotation}}": "web.example.org"}{{Finalized}}{{metadata}}""",
        """
        {"virtualIPs": [{"address": "198.18.0.201", "vrid": 9, "masterNode": "lb9", "backupNodes": ["lb8"], "transitions": 3}],
         "conditions": [{"type": "Ready", "status": "False", "reason": "NotPlanned"}], "observedGeneration": 0}
        """);

    /// <summary>An ActiveActive group on the nodes of rack b.</summary>
    private static VirtualIpGroupResource Dual(string vip, string metadata = "", int generation = 1) => Group("dual",
        $$$"""
        {"mode": "ActiveActive", "virtualIPs": ["{{{vip}}}", "fd00:10::202/64"], "nodeSelector": {"matchLabels": {"rack": "b"}},
         "virtualRouterIds": [60, 61], "vrrp": {"version": 3, "advertisementInterval": "100ms", "unicast": true}, "backendPoolRef": "api"}
        """, metadata, generation: generation);

    private static NginxBackendPoolResource Pool(string name, string spec) => Parse<NginxBackendPoolResource>($$$"""
        {"metadata": {"name": "{{{name}}}", "namespace": "edge", "uid": "uid-pool-{{{name}}}", "generation": 1}, "spec": {{{spec}}},
         "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Stale"}]}}
        """);

    private static V1Node Node(string name, string rack, bool ready, int address) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["role"] = "edge", ["rack"] = rack } },
        Status = new V1NodeStatus
        {
            Addresses = [new V1NodeAddress { Type = "InternalIP", Address = $"198.18.0.{address}" }],
            Conditions = [new V1NodeCondition { Type = "Ready", Status = ready ? "True" : "False" }],
        },
    };

    /// <summary>Secrets as the cache keeps them: the names of their keys, no values.</summary>
    private static V1Secret Secret(string name, params string[] keys) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "edge" },
        Data = keys.ToDictionary(k => k, _ => Array.Empty<byte>()),
    };

    /// <summary>A written config as the watch delivers it (a copy at generation 1), with its agent's report.</summary>
    private static NodeHaConfigResource Cached(NodeHaConfig written, NodeHaConfigStatus status) => new()
    {
        Metadata = new V1ObjectMeta { Name = written.Spec.NodeName, Generation = 1 },
        Spec = KubernetesJson.Deserialize<NodeHaConfigSpec>(KubernetesJson.Serialize(written.Spec)),
        Status = status,
    };

    private static NodeHaConfigStatus Report(NodeHaConfigSpec spec, long generation) => new()
    {
        ObservedGeneration = generation,
        Instances = spec.VrrpInstances.Select(i => new VrrpInstanceStatus
        {
            Name = i.Name, State = i.Priority == Planner.PreferredMasterPriority ? VrrpInstanceState.Master : VrrpInstanceState.Backup, LastTransitionTime = T0,
        }).ToList(),
        Nginx = new NginxStatus { State = NginxState.Running },
        HeardRouters = [new HeardRouterStatus { Interface = "eth0", Source = "198.18.0.250", VirtualRouterId = 77, Addresses = ["198.18.0.77"], Priority = 100 }],
    };

    [Fact]
    public async Task No_reconciler_changes_an_object_of_the_informer_caches_or_a_plan_it_has_made()
    {
        var time = new FakeTimeProvider(T0);
        using var api = new RecordingApi(Answer);
        var log = new OperatorLog(TextWriter.Null, time);
        var events = new EventRecorder(api.Client, Kinds.FieldManager, "test", log, time);
        var plans = new NodeHaConfigReconciler(api.Client, log);
        var groups = new VirtualIpGroupReconciler(api.Client, events, log, time)
        {
            DnsEndpointsEnabled = true,
            ConfirmExpired = (_, _) => Task.FromResult(true),
        };
        var pools = new NginxBackendPoolReconciler(api.Client, events, time);
        var witness = new Witness();

        async Task<PlanResult> RunAsync(string round, ClusterSnapshot snapshot)
        {
            witness.See(snapshot);
            var plan = await plans.ReconcileAsync(snapshot, CancellationToken.None);
            witness.See($"{round}'s plan", plan);
            witness.AssertUnchanged($"{round}, after the plan");
            foreach (var group in snapshot.Groups) await groups.ReconcileAsync(group, snapshot, plans.LastPlan, CancellationToken.None);
            foreach (var pool in snapshot.Pools) await pools.ReconcileAsync(pool, snapshot, CancellationToken.None);
            witness.AssertUnchanged($"{round}, after the group and pool reconcilers");
            return plan;
        }

        // 1: a group with a VRRP password, a DNS name and a pool resolved from EndpointSlices with TLS and basic auth; an
        // ActiveActive group over an IPv4 and an IPv6 VIP, not yet finalized; a group being deleted whose VIPs lb1 still reports; an
        // unready node; an expired heartbeat; a foreign router heard.
        var web = Web();
        var dual = Dual("198.18.0.202/24");
        var webPool = Pool("web", """
            {"listeners": [{"port": 80}, {"port": 443, "tls": {"secretName": "web-tls"}}], "backends": {"service": {"name": "web-svc", "port": 8080}},
             "status": {"enabled": true, "basicAuth": {"secretName": "web-auth"}}}
            """);
        var apiPool = Pool("api", """
            {"listeners": [{"port": 8443}], "loadBalancing": {"method": "LeastConn"},
             "backends": {"servers": [{"address": "198.18.0.31", "port": 9000, "weight": 2}, {"address": "198.18.0.32", "port": 9000, "backup": true}]}}
            """);
        var nodes = new List<V1Node> { Node("lb1", "a", true, 11), Node("lb2", "a", true, 12), Node("lb3", "b", false, 13), Node("lb4", "b", true, 14) };
        var slice = new V1EndpointSlice
        {
            AddressType = "IPv4",
            Metadata = new V1ObjectMeta { Name = "web-svc-1", NamespaceProperty = "edge", Labels = new Dictionary<string, string> { [ClusterSnapshot.ServiceNameLabel] = "web-svc" } },
            Ports = [new Discoveryv1EndpointPort { Port = 8080 }],
            Endpoints =
            [
                new V1Endpoint { Addresses = ["198.18.0.21"], Conditions = new V1EndpointConditions { Ready = true } },
                new V1Endpoint { Addresses = ["198.18.0.22"], Conditions = new V1EndpointConditions { Ready = false } },
            ],
        };
        List<V1Secret> secrets = [Secret("vrrp-auth", "password"), Secret("web-tls", "tls.crt", "tls.key"), Secret("web-auth", "auth")];
        var goneOnLb1 = new NodeHaConfigResource
        {
            Metadata = new V1ObjectMeta { Name = "lb1", Generation = 4 },
            Spec = new NodeHaConfigSpec
            {
                NodeName = "lb1",
                VrrpInstances = [new VrrpInstanceConfig { Name = "edge/gone/0", Group = "edge/gone", VirtualRouterId = 70, Priority = 255, VirtualIPs = ["198.18.0.203/24"] }],
            },
        };
        goneOnLb1.Status = Report(goneOnLb1.Spec, 4);
        var heartbeats = new Dictionary<string, Heartbeat>
        {
            ["lb1"] = new("lb1", T0.AddSeconds(-1), TimeSpan.FromSeconds(10)),
            ["lb2"] = new("lb2", T0.AddSeconds(-60), TimeSpan.FromSeconds(10)),
        };
        var first = await RunAsync("round 1", new ClusterSnapshot(
            [web, dual, Group("gone", """{"virtualIPs": ["198.18.0.203/24"], "nodeSelector": {"matchLabels": {"role": "edge"}}}""", DeletedAt + Finalized)],
            [webPool, apiPool], nodes, [slice], secrets, [goneOnLb1], heartbeats));
        Assert.NotEmpty(first.NodeConfigs);
        Assert.Contains(api.Requests, r => r.Method == "PATCH" && r.Path.EndsWith("/virtualipgroups/web/status", StringComparison.Ordinal));
        Assert.Contains(api.Requests, r => r.Method == "PATCH" && r.Path.EndsWith("/nginxbackendpools/web/status", StringComparison.Ordinal));
        Assert.Contains(api.Requests, r => r.Method == "PATCH" && r.Path.Contains("/dnsendpoints/", StringComparison.Ordinal));

        // 2: the caches caught up with the writes, and the agents report them; the deleted group is gone; dual comes back
        // finalized (a new object, the same spec).
        time.Advance(TimeSpan.FromSeconds(3));
        var second = await RunAsync("round 2", new ClusterSnapshot(
            [web, Dual("198.18.0.202/24", Finalized)], [webPool, apiPool], nodes, [slice], secrets,
            first.NodeConfigs.Select(c => Cached(c, Report(c.Spec, 1))).ToList(), heartbeats));

        // 3: dual's IPv4 VIP is edited (generation 2: the incremental plan rebuilds rack b's configs); lb3 becomes ready (a
        // new Node object).
        time.Advance(TimeSpan.FromSeconds(3));
        var applied = plans.Applies;
        var third = await RunAsync("round 3", new ClusterSnapshot(
            [web, Dual("198.18.0.204/24", Finalized, generation: 2)], [webPool, apiPool], [nodes[0], nodes[1], Node("lb3", "b", true, 13), nodes[3]],
            [slice], secrets, second.NodeConfigs.Select(c => Cached(c, Report(c.Spec, 1))).ToList(), heartbeats));
        Assert.Equal(applied + 2, plans.Applies); // lb3's and lb4's new configs were written
        // Rack a's configs are round 2's objects: the previous plan was reused, not only planned again.
        Assert.Equal(["lb1", "lb2"], third.NodeConfigs.Where(c => second.NodeConfigs.Any(o => ReferenceEquals(o, c))).Select(c => c.Spec.NodeName));

        // 4: web is being deleted while its nodes still carry it; lb2's heartbeat has expired (confirmed), lb1's has not.
        time.Advance(TimeSpan.FromSeconds(3));
        await RunAsync("round 4", new ClusterSnapshot(
            [Web(DeletedAt), Dual("198.18.0.204/24", Finalized, generation: 2)], [webPool, apiPool], nodes, [slice], secrets,
            third.NodeConfigs.Select(c => Cached(c, Report(c.Spec, 1))).ToList(), heartbeats));
        Assert.Contains(api.Requests, r => r.Method == "DELETE" && r.Path.EndsWith("/dnsendpoints/web", StringComparison.Ordinal));
        Assert.True(witness.Count > 25, $"only {witness.Count} objects were watched");
    }
}
