using System.Text;
using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Reconcilers;

/// <summary>
/// Each trimming rule of the informer caches: the readers (planner, group and pool status, Secret checks, DNS records)
/// give the same answer on trimmed objects as on the objects the API server sends, and what is dropped is gone.
/// </summary>
public class CachedObjectsTests
{
    static readonly DateTimeOffset T0 = new(2026, 12, 2, 16, 0, 0, TimeSpan.Zero);

    static string ReadyText(bool ready) => ready ? "True" : "False";

    // A kubelet's Node as the API server sends it: the fields the operator reads among the many it does not.
    static V1Node FullNode(string name, string address, string role, bool ready) => KubernetesJson.Deserialize<V1Node>($$"""
        {
          "apiVersion": "v1", "kind": "Node",
          "metadata": {
            "name": "{{name}}", "uid": "uid-{{name}}", "resourceVersion": "4711",
            "labels": {"kubernetes.io/hostname": "{{name}}", "nginx-ha.io/role": "{{role}}", "topology.kubernetes.io/zone": "z1"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
            "managedFields": [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {} } }]
          },
          "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "edge", "effect": "NoSchedule"}]},
          "status": {
            "addresses": [{"type": "InternalIP", "address": "{{address}}"}, {"type": "Hostname", "address": "{{name}}"}],
            "conditions": [
              {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
              {"type": "Ready", "status": "{{ReadyText(ready)}}", "reason": "KubeletReady", "message": "kubelet is posting ready status",
               "lastHeartbeatTime": "2026-12-02T15:59:00Z", "lastTransitionTime": "2026-12-01T08:00:00Z"}
            ],
            "capacity": {"cpu": "16", "memory": "65843916Ki", "pods": "110"},
            "allocatable": {"cpu": "15800m", "memory": "64Gi", "pods": "110"},
            "images": [
              {"names": ["registry.example/nginx-ha-agent@sha256:{{new string('a', 64)}}", "registry.example/nginx-ha-agent:1.0"], "sizeBytes": 12345678},
              {"names": ["registry.example/pause@sha256:{{new string('b', 64)}}"], "sizeBytes": 321}
            ],
            "nodeInfo": {"machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12",
                         "containerRuntimeVersion": "containerd://1.7.0", "kubeletVersion": "v1.31.0", "kubeProxyVersion": "v1.31.0",
                         "operatingSystem": "linux", "architecture": "amd64"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250} }
          }
        }
        """);

    static VirtualIpGroupResource Group(string name, string vip, string role, string pool, Dictionary<string, string>? annotations = null)
    {
        var group = KubernetesJson.Deserialize<VirtualIpGroupResource>($$"""
            {
              "apiVersion": "nginx-ha.io/v1alpha1", "kind": "VirtualIpGroup",
              "metadata": {"name": "{{name}}", "namespace": "edge", "uid": "uid-{{name}}", "resourceVersion": "99", "generation": 2},
              "spec": {"mode": "ActiveActive", "virtualIPs": ["{{vip}}/24", "{{vip[..^1]}}9/24"], "nodeSelector": {"matchLabels": {"nginx-ha.io/role": "{{role}}"} },
                       "vrrp": {"version": 3, "advertisementInterval": "100ms", "authSecretRef": {"name": "vrrp-auth", "key": "password"} },
                       "backendPoolRef": "{{pool}}"}
            }
            """);
        group.Metadata.Annotations = annotations;
        group.Metadata.ManagedFields = [new V1ManagedFieldsEntry { Manager = "kubectl", Operation = "Apply" }];
        return group;
    }

    static NginxBackendPoolResource ServicePool(string name, string service, int port) => KubernetesJson.Deserialize<NginxBackendPoolResource>($$"""
        {
          "apiVersion": "nginx-ha.io/v1alpha1", "kind": "NginxBackendPool",
          "metadata": {"name": "{{name}}", "namespace": "edge", "uid": "uid-{{name}}", "resourceVersion": "98", "generation": 1,
                       "annotations": {"{{CachedObjects.LastAppliedAnnotation}}": "{\"spec\":{\"backends\":{\"service\":{\"name\":\"{{service}}\"} } } }"} },
          "spec": {"listeners": [{"port": 443, "tls": {"secretName": "web-tls"} }], "backends": {"service": {"name": "{{service}}", "port": {{port}} } } }
        }
        """);

    static V1EndpointSlice FullSlice(string name, string service, int port, params (string Address, bool? Ready)[] endpoints)
    {
        var items = string.Join(",", endpoints.Select(e => $$"""
            {"addresses": ["{{e.Address}}"], {{(e.Ready is { } r ? $"\"conditions\": {{\"ready\": {(r ? "true" : "false")}, \"serving\": true, \"terminating\": false}}," : "")}}
             "hostname": "pod-{{e.Address.Replace('.', '-')}}", "nodeName": "worker-1", "zone": "z1",
             "targetRef": {"kind": "Pod", "namespace": "edge", "name": "web-{{e.Address.Replace('.', '-')}}", "uid": "u"},
             "hints": {"forZones": [{"name": "z1"}]} }
            """));
        return KubernetesJson.Deserialize<V1EndpointSlice>($$"""
            {
              "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "metadata": {"name": "{{name}}", "namespace": "edge", "uid": "uid-{{name}}", "resourceVersion": "123",
                           "labels": {"kubernetes.io/service-name": "{{service}}", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                           "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-12-02T15:00:00Z"},
                           "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "{{service}}", "uid": "s", "controller": true, "blockOwnerDeletion": true}]},
              "addressType": "IPv4",
              "ports": [{"name": "http", "port": {{port}}, "protocol": "TCP", "appProtocol": "http"}],
              "endpoints": [{{items}}]
            }
            """);
    }

    static V1Secret FullSecret(string name, params (string Key, string Value)[] data) => new()
    {
        ApiVersion = "v1", Kind = "Secret", Type = "Opaque",
        Metadata = new V1ObjectMeta
        {
            Name = name, NamespaceProperty = "edge", Uid = "uid-" + name, ResourceVersion = "77",
            Labels = new Dictionary<string, string> { ["app"] = "web" },
            // kubectl apply keeps the whole object, values included, in this annotation.
            Annotations = new Dictionary<string, string>
            {
                [CachedObjects.LastAppliedAnnotation] = KubernetesJson.Serialize(new { data = data.ToDictionary(d => d.Key, d => Convert.ToBase64String(Encoding.UTF8.GetBytes(d.Value))) }),
            },
            ManagedFields = [new V1ManagedFieldsEntry { Manager = "kubectl", Operation = "Apply" }],
        },
        Data = data.ToDictionary(d => d.Key, d => Encoding.UTF8.GetBytes(d.Value)),
    };

    static T Trim<T>(Func<object, object> rule, T item) => (T)rule(KubernetesJson.Deserialize<T>(KubernetesJson.Serialize(item))!);

    static string Json(object? value) => KubernetesJson.Serialize(value);

    static ClusterSnapshot Snapshot(IReadOnlyList<VirtualIpGroupResource> groups, IReadOnlyList<NginxBackendPoolResource> pools, IReadOnlyList<V1Node> nodes,
        IReadOnlyList<V1EndpointSlice> slices, IReadOnlyList<V1Secret> secrets) =>
        new(groups, pools, nodes, slices, secrets, [], new Dictionary<string, Heartbeat>());

    static IReadOnlyList<V1Node> Nodes() =>
    [
        FullNode("lb1", "198.18.0.11", "edge", ready: true), FullNode("lb2", "198.18.0.12", "edge", ready: false),
        FullNode("lb3", "198.18.0.13", "core", ready: true),
    ];

    static IReadOnlyList<VirtualIpGroupResource> Groups() =>
        [Group("web", "198.18.0.201", "edge", "web"), Group("api", "198.18.0.211", "core", "web")];

    /// <summary>The plan and the status of every group: what the readers make of a snapshot.</summary>
    static string Outcome(ClusterSnapshot snapshot)
    {
        var plan = Planner.Plan(snapshot.ToPlanInput());
        var statuses = snapshot.Groups.Select(g =>
        {
            var reports = snapshot.Nodes.Select(n => new NodeReport(n.Metadata.Name, ClusterSnapshot.IsReady(n), null, 1, null)).ToList();
            var secret = g.Spec.Vrrp.AuthSecretRef is { } s && snapshot.SecretHasKey(g.Metadata.NamespaceProperty, s.Name, s.Key);
            var status = GroupStatusBuilder.Build(g, plan.GroupFor(Kinds.Key(g.Metadata)), reports, secret, T0);
            return new { status, dns = DnsEndpoints.Desired(g, status) };
        });
        var pools = snapshot.Pools.Select(p =>
            PoolStatusBuilder.Build(p, ClusterSnapshot.ToCore(p, snapshot.EndpointSlices), ["edge/web"], snapshot.Configs, [], T0));
        return Json(new { plan.NodeConfigs, plan.Errors, statuses, pools });
    }

    [Fact]
    public void A_trimmed_Node_keeps_labels_addresses_and_readiness_and_plans_and_reports_as_the_full_one()
    {
        var full = Nodes();
        var trimmed = full.Select(n => Trim(CachedObjects.Node, n)).ToList();

        Assert.Equal(Outcome(Snapshot(Groups(), [], full, [], [])), Outcome(Snapshot(Groups(), [], trimmed, [], [])));
        Assert.Equal(full.Select(ClusterSnapshot.IsReady), trimmed.Select(ClusterSnapshot.IsReady));
        Assert.Equal(full.Select(n => Json(ClusterSnapshot.ToCore(n))), trimmed.Select(n => Json(ClusterSnapshot.ToCore(n))));
        Assert.Equal([true, false, true], trimmed.Select(ClusterSnapshot.IsReady));
        var lb1 = trimmed[0];
        Assert.Equal(("lb1", "uid-lb1", "4711"), (lb1.Metadata.Name, lb1.Metadata.Uid, lb1.Metadata.ResourceVersion));
        Assert.Equal("edge", lb1.Metadata.Labels["nginx-ha.io/role"]);
        Assert.Null(lb1.Metadata.ManagedFields);
        Assert.Null(lb1.Metadata.Annotations);
        Assert.Null(lb1.Spec);
        Assert.Null(lb1.Status.Images);
        Assert.Null(lb1.Status.NodeInfo);
        Assert.Null(lb1.Status.Capacity);
        Assert.Equal(["Ready"], lb1.Status.Conditions.Select(c => c.Type));
    }

    [Fact]
    public void A_trimmed_Node_without_conditions_or_addresses_stays_without_them()
    {
        var bare = new V1Node { Metadata = new V1ObjectMeta { Name = "lb9", ResourceVersion = "1" } };
        var trimmed = Trim(CachedObjects.Node, bare);

        Assert.False(ClusterSnapshot.IsReady(trimmed));
        Assert.Equal(Json(ClusterSnapshot.ToCore(bare)), Json(ClusterSnapshot.ToCore(trimmed)));
    }

    [Fact]
    public void A_trimmed_Secret_answers_every_presence_check_as_the_full_one_and_holds_no_value()
    {
        const string password = "s3cr3t-vrrp-pass";
        var full = new[] { FullSecret("vrrp-auth", ("password", password)), FullSecret("web-tls", ("tls.crt", "CERT-BYTES"), ("tls.key", "KEY-BYTES")) };
        var trimmed = full.Select(s => Trim(CachedObjects.Secret, s)).ToList();

        var checks = new (string Name, string? Key)[] { ("vrrp-auth", "password"), ("vrrp-auth", "other"), ("vrrp-auth", null), ("web-tls", null),
            ("web-tls", "tls.key"), ("missing", null) };
        var fullSnapshot = Snapshot(Groups(), [], Nodes(), [], full);
        var trimmedSnapshot = Snapshot(Groups(), [], Nodes(), [], trimmed);
        foreach (var (name, key) in checks)
            Assert.Equal(fullSnapshot.SecretHasKey("edge", name, key), trimmedSnapshot.SecretHasKey("edge", name, key));
        Assert.Equal(Outcome(fullSnapshot), Outcome(trimmedSnapshot));

        var text = Json(trimmed);
        foreach (var secret in new[] { password, "CERT-BYTES", "KEY-BYTES" })
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(secret)), text, StringComparison.Ordinal);
        }
        Assert.All(trimmed.SelectMany(s => s.Data.Values), v => Assert.Empty(v));
        Assert.All(trimmed, s => Assert.Null(s.Metadata.Annotations));
        Assert.All(trimmed, s => Assert.Null(s.Metadata.Labels));
        Assert.Equal("77", trimmed[0].Metadata.ResourceVersion);
    }

    [Fact]
    public void A_trimmed_EndpointSlice_resolves_the_same_servers_and_pool_status_as_the_full_one()
    {
        var full = new[]
        {
            FullSlice("web-abc", "web", 8080, ("10.0.0.1", true), ("10.0.0.2", false), ("10.0.0.3", null)),
            FullSlice("web-def", "web", 8080, ("10.0.0.4", true)),
            FullSlice("other-xyz", "other", 9090, ("10.0.1.1", true)),
        };
        var trimmed = full.Select(s => Trim(CachedObjects.EndpointSlice, s)).ToList();
        var pools = new[] { ServicePool("web", "web", 8080) };

        Assert.Equal(Outcome(Snapshot(Groups(), pools, Nodes(), full, [])), Outcome(Snapshot(Groups(), pools, Nodes(), trimmed, [])));
        Assert.Equal(["10.0.0.1", "10.0.0.3", "10.0.0.4"], ClusterSnapshot.ResolveEndpoints("edge", pools[0].Spec.Backends.Service!, trimmed).Select(e => e.Address));
        var slice = trimmed[0];
        Assert.Equal("web", slice.Metadata.Labels[ClusterSnapshot.ServiceNameLabel]);
        Assert.Equal("123", slice.Metadata.ResourceVersion);
        Assert.Null(slice.Metadata.Annotations);
        Assert.Null(slice.Metadata.OwnerReferences);
        Assert.All(slice.Endpoints, e => Assert.Null(e.TargetRef));
        Assert.All(slice.Endpoints, e => Assert.Null(e.Hints));
        Assert.All(slice.Endpoints, e => Assert.Null(e.NodeName));
    }

    [Fact]
    public void Our_own_objects_lose_managedFields_and_kubectls_copy_but_keep_every_other_annotation()
    {
        var dns = new Dictionary<string, string>
        {
            [DnsEndpoints.NameAnnotation] = "web.example.org",
            [DnsEndpoints.TtlAnnotation] = "30",
            [CachedObjects.LastAppliedAnnotation] = "{\"kind\":\"VirtualIpGroup\"}",
        };
        var full = new[] { Group("web", "198.18.0.201", "edge", "web", dns), Group("api", "198.18.0.211", "core", "web") };
        var trimmed = full.Select(g => Trim(CachedObjects.Metadata, g)).ToList();
        var pool = Trim(CachedObjects.Metadata, ServicePool("web", "web", 8080));

        Assert.Equal(Outcome(Snapshot(full, [], Nodes(), [], [])), Outcome(Snapshot(trimmed, [], Nodes(), [], [])));
        Assert.Equal([DnsEndpoints.NameAnnotation, DnsEndpoints.TtlAnnotation], trimmed[0].Metadata.Annotations.Keys.Order(StringComparer.Ordinal));
        Assert.All(trimmed, g => Assert.Null(g.Metadata.ManagedFields));
        Assert.Null(pool.Metadata.Annotations); // kubectl's copy was its only annotation
        Assert.Equal(("99", 2L), (trimmed[0].Metadata.ResourceVersion, trimmed[0].Metadata.Generation!.Value));
    }
}
