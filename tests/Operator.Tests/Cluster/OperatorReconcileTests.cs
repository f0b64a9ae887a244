using System.Text.Json;
using k8s;
using k8s.Models;
using NginxHa.Core.Resources;
using NginxHa.Operator.Machinery;
using NginxHa.Operator.Metrics;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Operator.Tests.Cluster;

/// <summary>
/// The operator's controllers in-process against the test cluster (our CRDs on the real server, Nodes on the
/// stand-in), with the agents' side played by status writes on their NodeHaConfigs.
/// </summary>
public sealed class OperatorReconcileTests(OperatorReconcileTests.Server fixture) : IClassFixture<OperatorReconcileTests.Server>, IAsyncLifetime
{
    public sealed class Server : IAsyncLifetime
    {
        public ApiServer ApiServer { get; } = new();

        public async Task InitializeAsync()
        {
            await ApiServer.InitializeAsync();
            await ApiServer.ApplyCrdsAsync(await File.ReadAllTextAsync(ApiServer.RepositoryPath("crds/nginx-ha.io_virtualipgroups.yaml"))
                + "\n---\n" + await File.ReadAllTextAsync(ApiServer.RepositoryPath("crds/nginx-ha.io_nginxbackendpools.yaml"))
                + "\n---\n" + await File.ReadAllTextAsync(ApiServer.RepositoryPath("crds/nginx-ha.io_nodehaconfigs.yaml")),
                "/apis/nginx-ha.io/v1alpha1/virtualipgroups", "/apis/nginx-ha.io/v1alpha1/nginxbackendpools", "/apis/nginx-ha.io/v1alpha1/nodehaconfigs");
            await ApiServer.ApplyCrdsAsync(DnsEndpointCrd, "/apis/externaldns.k8s.io/v1alpha1/dnsendpoints");
        }

        public Task DisposeAsync() => ApiServer.DisposeAsync();
    }

    /// <summary>external-dns's DNSEndpoint CRD, with the fields of its endpoints as upstream types them.</summary>
    private const string DnsEndpointCrd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: dnsendpoints.externaldns.k8s.io
          annotations: {api-approved.kubernetes.io: "https://github.com/kubernetes-sigs/external-dns/pull/2007"}
        spec:
          group: externaldns.k8s.io
          scope: Namespaced
          names: {plural: dnsendpoints, singular: dnsendpoint, kind: DNSEndpoint, listKind: DNSEndpointList}
          versions:
          - name: v1alpha1
            served: true
            storage: true
            subresources: {status: {}}
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      endpoints:
                        type: array
                        items:
                          type: object
                          properties:
                            dnsName: {type: string}
                            recordTTL: {type: integer, format: int64}
                            recordType: {type: string}
                            setIdentifier: {type: string}
                            targets: {type: array, items: {type: string}}
                            labels: {type: object, additionalProperties: {type: string}}
                  status:
                    type: object
                    properties:
                      observedGeneration: {type: integer, format: int64}
        """;

    private readonly ApiServer _server = fixture.ApiServer;
    private readonly StringWriter _logText = new();
    private readonly CancellationTokenSource _stop = new();
    private IKubernetes _client = null!;
    private OperatorController _controller = null!;
    private Task _run = Task.CompletedTask;
    private readonly System.Collections.Concurrent.ConcurrentQueue<(StartupStep Step, bool Lb1Written)> _steps = new();
    private string _ns = "";

    public async Task InitializeAsync()
    {
        _client = _server.Client();
        _ns = $"t{Guid.NewGuid():N}"[..10]; // each test's groups and pools in their own namespace
        // A clean slate: no groups (finalizers dropped), pools, NodeHaConfigs or nodes of earlier tests.
        var groups = (JsonElement)await _client.CustomObjects.ListClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.VirtualIpGroups);
        foreach (var item in groups.GetProperty("items").EnumerateArray())
        {
            var (ns, name) = (item.GetProperty("metadata").GetProperty("namespace").GetString()!, item.GetProperty("metadata").GetProperty("name").GetString()!);
            await _client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch("""{"metadata":{"finalizers":null}}""", V1Patch.PatchType.MergePatch),
                ApiGroup.Group, ApiGroup.Version, ns, Kinds.VirtualIpGroups, name);
            try { await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, ns, Kinds.VirtualIpGroups, name); }
            catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { }
        }
        var pools = (JsonElement)await _client.CustomObjects.ListClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.NginxBackendPools);
        foreach (var item in pools.GetProperty("items").EnumerateArray())
            await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version,
                item.GetProperty("metadata").GetProperty("namespace").GetString()!, Kinds.NginxBackendPools, item.GetProperty("metadata").GetProperty("name").GetString()!);
        await _client.CustomObjects.DeleteCollectionClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs);
        foreach (var node in (await _client.CoreV1.ListNodeAsync()).Items) await _client.CoreV1.DeleteNodeAsync(node.Metadata.Name);
        foreach (var lease in (await _client.CoordinationV1.ListNamespacedLeaseAsync("default")).Items.Where(l => AgentLeases.NodeOf(l) is not null))
            await _client.CoordinationV1.DeleteNamespacedLeaseAsync(lease.Metadata.Name, "default");
        foreach (var (name, ip, role) in new[] { ("lb1", "198.18.0.11", _ns), ("lb2", "198.18.0.12", _ns), ("lb3", "198.18.0.13", "other") })
            await _client.CoreV1.CreateNodeAsync(new V1Node
            {
                ApiVersion = "v1", Kind = "Node",
                Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["nginx-ha.io/role"] = role } },
                Status = new V1NodeStatus
                {
                    Addresses = [new V1NodeAddress { Type = "InternalIP", Address = ip }],
                    Conditions = [new V1NodeCondition { Type = "Ready", Status = "True" }],
                },
            });
    }

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        await _run.WaitAsync(TimeSpan.FromSeconds(20));
        _client.Dispose();
    }

    private void StartOperator(TimeSpan? releaseTimeout = null, bool dnsEndpoints = false)
    {
        var writer = TextWriter.Synchronized(_logText);
        var log = new OperatorLog(writer, TimeProvider.System, debug: true);
        _controller = new OperatorController(_client, new OperatorOptions
        {
            Workers = 2,
            ReleaseTimeout = releaseTimeout ?? TimeSpan.FromSeconds(60),
            Informer = new InformerOptions { ErrorBackoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)) },
            Instance = "test",
            DnsEndpoints = dnsEndpoints,
            // With, for each step, whether the server had accepted lb1's NodeHaConfig by then (the reconciler logs it
            // after the server's answer). Nothing here may block: the hook runs on the controller's own threads.
            StartupStepReached = step =>
            {
                string text;
                lock (writer) text = _logText.ToString(); // the lock the synchronized writer writes under
                _steps.Enqueue((step, text.Contains("NodeHaConfig lb1: applied", StringComparison.Ordinal)));
            },
        }, log);
        _run = _controller.RunAsync(_stop.Token);
    }

    private async Task ApplyAsync(string yaml)
    {
        var file = Path.Combine(Path.GetTempPath(), $"nha-op-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        try { await _server.KubectlAsync("apply", "-f", file); }
        finally { File.Delete(file); }
    }

    private string Pool(string name = "web") => $$"""
        apiVersion: nginx-ha.io/v1alpha1
        kind: NginxBackendPool
        metadata: {name: {{name}}, namespace: {{_ns}}}
        spec:
          listeners: [{port: 80}]
          backends:
            servers: [{address: 198.18.0.21, port: 8080}]
        """;

    private string Group(string name, string vips, string extra = "", string pool = "web") => $$$"""
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {name: {{{name}}}, namespace: {{{_ns}}}}
        spec:
          mode: ActiveActive
          virtualIPs: [{{{vips}}}]
          nodeSelector: {matchLabels: {nginx-ha.io/role: {{{_ns}}}}}
          backendPoolRef: {{{pool}}}
        {{{extra}}}
        """;

    private async Task<NodeHaConfigResource?> Config(string node)
    {
        try
        {
            var json = (JsonElement)await _client.CustomObjects.GetClusterCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, node);
            return KubernetesJson.Deserialize<NodeHaConfigResource>(json.GetRawText());
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { return null; }
    }

    private async Task<VirtualIpGroupResource?> GroupObject(string name)
    {
        try
        {
            var json = (JsonElement)await _client.CustomObjects.GetNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, _ns, Kinds.VirtualIpGroups, name);
            return KubernetesJson.Deserialize<VirtualIpGroupResource>(json.GetRawText());
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { return null; }
    }

    /// <summary>What an agent writes: the state of each of its instances, for the config generation it applied.</summary>
    private Task ReportAsync(string node, params (string Instance, VrrpInstanceState State)[] instances) => ReportAsync(node, null, instances);

    private async Task ReportAsync(string node, NginxStatus? nginx, params (string Instance, VrrpInstanceState State)[] instances)
    {
        var config = await Config(node) ?? throw new InvalidOperationException($"no NodeHaConfig {node}");
        var status = new NodeHaConfigStatus
        {
            ObservedGeneration = config.Metadata.Generation,
            Nginx = nginx,
            Instances = instances.Select(i => new VrrpInstanceStatus
            {
                Name = $"{_ns}/{i.Instance}", State = i.State, Transitions = 1,
                LastTransitionTime = DateTimeOffset.UtcNow.AddTicks(-(DateTimeOffset.UtcNow.Ticks % TimeSpan.TicksPerSecond)),
            }).ToList(),
        };
        await _client.CustomObjects.PatchClusterCustomObjectStatusAsync(new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch),
            ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, node);
    }

    private async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what, int seconds = 20)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (true)
        {
            var value = await probe();
            if (done(value)) return value;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{what} within {seconds} s; last: {(value is null ? "null" : KubernetesJson.Serialize(value))}\nlog:\n{_logText}");
            await Task.Delay(50);
        }
    }

    private async Task<IReadOnlyList<Eventsv1Event>> Events() => (await _client.EventsV1.ListNamespacedEventAsync(_ns)).Items.ToList();

    private async Task<NginxBackendPoolResource?> PoolObject(string name)
    {
        var json = (JsonElement)await _client.CustomObjects.GetNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, _ns, Kinds.NginxBackendPools, name);
        return KubernetesJson.Deserialize<NginxBackendPoolResource>(json.GetRawText());
    }

    private static Condition ConditionOf(NginxBackendPoolResource? pool) =>
        pool?.Status?.Conditions.FirstOrDefault(c => c.Type == "Ready") ?? new Condition();

    private static Condition ConditionOf(VirtualIpGroupResource? group, string type) =>
        group?.Status?.Conditions.FirstOrDefault(c => c.Type == type) ?? new Condition();

    [Fact]
    public async Task Plans_one_NodeHaConfig_per_selected_node_by_server_side_apply_and_aggregates_the_agents_reports_into_the_group_status()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201, 198.18.0.202"));
        StartOperator();

        var lb1 = await Until(() => Config("lb1"), c => c is not null, "NodeHaConfig lb1");
        var lb2 = await Until(() => Config("lb2"), c => c is not null, "NodeHaConfig lb2");
        Assert.Null(await Config("lb3")); // not selected
        Assert.Equal([$"{_ns}/web/0:254", $"{_ns}/web/1:253"], lb1!.Spec.VrrpInstances.Select(i => $"{i.Name}:{i.Priority}"));
        Assert.Equal([$"{_ns}/web/0:253", $"{_ns}/web/1:254"], lb2!.Spec.VrrpInstances.Select(i => $"{i.Name}:{i.Priority}"));
        Assert.Equal([$"{_ns}/web"], lb1.Spec.BackendPools.Select(p => p.Name));
        var managed = Assert.Single(lb1.Metadata.ManagedFields, m => m.Manager == Kinds.FieldManager);
        Assert.Equal("Apply", managed.Operation);

        var group = await Until(() => GroupObject("web"), g => g?.Status is not null, "the first status");
        Assert.Contains(Kinds.VipsFinalizer, group!.Metadata.Finalizers);
        // Start-up steps (the operator gives memory back at each): the caches, then the first plan once its writes are
        // done; later plans (the finalizer, the status) do not report it again.
        await Until(() => Task.FromResult(_steps.Count), n => n >= 2, "the first plan's start-up step");
        Assert.Equal([(StartupStep.CachesSynced, false), (StartupStep.FirstPlanWritten, true)], _steps.ToArray());
        Assert.Equal(("False", "NoMaster"), (ConditionOf(group, "Ready").Status, ConditionOf(group, "Ready").Reason));
        Assert.Equal("NodeNotReporting", ConditionOf(group, "Degraded").Reason);

        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Backup));
        await ReportAsync("lb2", ("web/0", VrrpInstanceState.Backup), ("web/1", VrrpInstanceState.Master));
        group = await Until(() => GroupObject("web"), g => ConditionOf(g, "Ready").Status == "True", "Ready");
        Assert.Equal(["198.18.0.201 lb1 [lb2] 0", "198.18.0.202 lb2 [lb1] 0"],
            group!.Status!.VirtualIPs.Select(v => $"{v.Address} {v.MasterNode} [{string.Join(",", v.BackupNodes)}] {v.Transitions}"));
        Assert.Equal(("False", "Redundant"), (ConditionOf(group, "Degraded").Status, ConditionOf(group, "Degraded").Reason));
        Assert.All(group.Status.Conditions, c => Assert.Equal(group.Metadata.Generation, c.ObservedGeneration));
        var conflictSince = ConditionOf(group, "Conflict").LastTransitionTime;
        var readySince = ConditionOf(group, "Ready").LastTransitionTime;

        // lb1 fails: lb2 reports MASTER of both. The master moves, one transition; Conflict never flips, so its time stays.
        await Task.Delay(1100); // timestamps have whole seconds: make a new one distinguishable
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Fault), ("web/1", VrrpInstanceState.Fault));
        await ReportAsync("lb2", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Master));
        group = await Until(() => GroupObject("web"), g => g?.Status?.VirtualIPs[0].MasterNode == "lb2" && ConditionOf(g, "Ready").Status == "True", "the new master");
        Assert.Equal(1, group!.Status!.VirtualIPs[0].Transitions);
        Assert.NotNull(group.Status.VirtualIPs[0].LastTransitionTime);
        Assert.Equal(0, group.Status.VirtualIPs[1].Transitions);
        Assert.Equal(conflictSince, ConditionOf(group, "Conflict").LastTransitionTime);
        await Until(Events, e => e.Any(x => x.Reason == "MasterChanged" && x.Regarding.Kind == "VirtualIpGroup" && x.Note == "198.18.0.201: MASTER is now lb2"),
            "a MasterChanged Event");

        // Split brain: both report MASTER of web/0.
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Backup));
        group = await Until(() => GroupObject("web"), g => ConditionOf(g, "Ready").Reason == "MultipleMasters", "MultipleMasters");
        Assert.Contains($"{_ns}/web/0 (lb1, lb2)", ConditionOf(group, "Ready").Message);
        Assert.NotEqual(readySince, ConditionOf(group, "Ready").LastTransitionTime);
        await Until(Events, e => e.Any(x => x.Reason == "MultipleMasters" && x.Type == "Warning" && x.Regarding.Name == "web"), "a MultipleMasters Event");

        // The agents' reports never made the operator write a NodeHaConfig again: status changes do not re-plan.
        Assert.Equal(2, _controller.ConfigReconciler.Applies);

        // lb2 leaves the group: its NodeHaConfig goes, lb1 carries both VIPs.
        await _client.CoreV1.PatchNodeAsync(new V1Patch("""{"metadata":{"labels":{"nginx-ha.io/role":"none"}}}""", V1Patch.PatchType.MergePatch), "lb2");
        await Until(() => Config("lb2"), c => c is null, "lb2's NodeHaConfig removed");
        lb1 = await Until(() => Config("lb1"), c => c!.Spec.VrrpInstances.All(i => i.Priority == 254), "lb1 preferred master of both");
        Assert.Equal(2, lb1!.Spec.VrrpInstances.Count);
    }

    /// <summary>An agent's heartbeat: its Lease in the operator's namespace, renewed now.</summary>
    private async Task RenewAsync(string node, int seconds)
    {
        var spec = new V1LeaseSpec { HolderIdentity = node, LeaseDurationSeconds = seconds, RenewTime = DateTime.UtcNow };
        try
        {
            await _client.CoordinationV1.PatchNamespacedLeaseAsync(new V1Patch(KubernetesJson.Serialize(new { spec }), V1Patch.PatchType.MergePatch),
                AgentLeases.LeaseName(node), "default");
        }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            await _client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
            {
                ApiVersion = "coordination.k8s.io/v1", Kind = "Lease",
                Metadata = new V1ObjectMeta { Name = AgentLeases.LeaseName(node), NamespaceProperty = "default" },
                Spec = spec,
            }, "default");
        }
    }

    [Fact]
    public async Task An_agent_whose_heartbeat_Lease_expires_is_not_counted_so_the_survivor_alone_is_master_and_a_renewal_counts_it_again()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201, 198.18.0.202"));
        StartOperator();
        await Until(() => Config("lb1"), c => c is not null, "NodeHaConfig lb1");
        await Until(() => Config("lb2"), c => c is not null, "NodeHaConfig lb2");

        // lb2 renews its 2 s Lease every 0.5 s throughout, as its agent would; lb1 renews once and then dies.
        using var lb2Alive = new CancellationTokenSource();
        var lb2Beats = Task.Run(async () =>
        {
            while (!lb2Alive.IsCancellationRequested)
            {
                await RenewAsync("lb2", 2);
                try { await Task.Delay(500, lb2Alive.Token); } catch (OperationCanceledException) { }
            }
        });
        try
        {
            await RenewAsync("lb1", 2);
            // lb1's last report says MASTER of web/0; lb2 took web/0 over after lb1 died.
            await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Backup));
            await ReportAsync("lb2", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Master));
            var group = await Until(() => GroupObject("web"), g => g?.Status?.Masters == "lb2,lb2" && ConditionOf(g, "Ready").Reason == "MasterElected"
                && ConditionOf(g, "Degraded").Reason == "NodeNotReporting", "lb2 the only master once lb1's Lease expired");
            Assert.Equal($"heartbeat expired, last report not counted: lb1 (Lease {AgentLeases.LeaseName("lb1")} not renewed within 2 s)",
                ConditionOf(group, "Degraded").Message);
            Assert.Equal(1, (await Config("lb1"))!.Status!.Instances.Count(i => i.State == VrrpInstanceState.Master)); // the stale report is still there
            Assert.Equal(new global::NginxHa.Operator.Metrics.VipCounts(0, 2, 0), global::NginxHa.Operator.Metrics.OperatorMetrics.VipsByState(_controller.Configs.List(), n => _controller.Heartbeats.Reporting(n, DateTimeOffset.UtcNow)));

            // lb1 comes back as BACKUP and renews: it counts again, the group is redundant.
            await ReportAsync("lb1", ("web/0", VrrpInstanceState.Backup), ("web/1", VrrpInstanceState.Backup));
            await RenewAsync("lb1", 2);
            group = await Until(() => GroupObject("web"), g => g?.Status?.VirtualIPs.All(v => v.BackupNodes.SequenceEqual(["lb1"])) == true
                && ConditionOf(g, "Degraded").Reason == "Redundant", "lb1 counted again as backup");
            Assert.Equal("lb2,lb2", group!.Status!.Masters);
        }
        finally
        {
            await lb2Alive.CancelAsync();
            await lb2Beats;
        }
    }

    [Fact]
    public async Task An_agent_reporting_a_foreign_router_on_a_groups_VRID_re_plans_and_the_group_gets_VridConflict_and_an_Event()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201", "  virtualRouterIds: [42]"));
        StartOperator();
        var group = await Until(() => GroupObject("web"), g => g?.Status is not null, "the first status");
        Assert.Equal("False", ConditionOf(group, "Conflict").Status);

        // Only lb1's status changes (as its agent writes it): that alone must re-plan. lb2 hears our own instance, no conflict.
        HeardRouterStatus Heard(string address, int version, string source) => new()
        {
            Interface = "eth0", Source = source, Family = "IPv4", VirtualRouterId = 42, Version = version, Addresses = [address], Priority = 100,
            LastHeard = DateTimeOffset.UtcNow.AddTicks(-(DateTimeOffset.UtcNow.Ticks % TimeSpan.TicksPerSecond)),
        };
        async Task HearAsync(string node, HeardRouterStatus heard)
        {
            var status = new { heardRouters = new[] { heard } };
            await _client.CustomObjects.PatchClusterCustomObjectStatusAsync(new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch),
                ApiGroup.Group, ApiGroup.Version, Kinds.NodeHaConfigs, node);
        }
        await HearAsync("lb2", Heard("198.18.0.201", 3, "198.18.0.11"));
        await HearAsync("lb1", Heard("198.18.0.250", 2, "198.18.0.99"));

        group = await Until(() => GroupObject("web"), g => ConditionOf(g, "Conflict").Reason == "VridConflict", "Conflict VridConflict");
        Assert.Equal("True", ConditionOf(group, "Conflict").Status);
        Assert.Equal($"VRID 42 of {_ns}/web/0 (IPv4 on the default interface) is also heard on the wire from another virtual router: " +
                     "VRRPv2, auth None, addresses 198.18.0.250, from 198.18.0.99, heard by node lb1 on eth0", ConditionOf(group, "Conflict").Message);
        Assert.Equal(42, group!.Status!.VirtualIPs.Single().Vrid); // explicit: kept
        await Until(Events, e => e.Any(x => x.Reason == "VridConflict" && x.Type == "Warning" && x.Regarding.Name == "web"
                                           && x.Note.Contains("heard by node lb1", StringComparison.Ordinal)), "a VridConflict Event");
    }

    [Fact]
    public async Task Deleting_a_group_withdraws_its_VIPs_and_the_finalizer_waits_until_every_agent_reports_them_released()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201"));
        StartOperator();
        await Until(() => GroupObject("web"), g => g?.Metadata.Finalizers?.Contains(Kinds.VipsFinalizer) == true, "the finalizer");
        await Until(() => Config("lb2"), c => c is not null, "NodeHaConfig lb2");
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master));
        await ReportAsync("lb2", ("web/0", VrrpInstanceState.Backup));

        await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, _ns, Kinds.VirtualIpGroups, "web");
        // The VIPs leave both configs at once; the (now empty) configs stay while the group waits for its agents.
        await Until(() => Config("lb1"), c => c!.Spec.VrrpInstances.Count == 0, "lb1 withdrawn");
        await Until(() => Config("lb2"), c => c!.Spec.VrrpInstances.Count == 0, "lb2 withdrawn");
        await ReportAsync("lb1");
        // The operator has seen lb1's release and still waits for lb2, which reports its instance: the group stays.
        await Until(Events, e => e.Any(x => x.Reason == "WaitingForRelease" && x.Note.StartsWith("waiting for node(s) lb2 ", StringComparison.Ordinal)),
            "an Event waiting for lb2 alone");
        Assert.NotNull(await GroupObject("web"));

        await ReportAsync("lb2");
        await Until(() => GroupObject("web"), g => g is null, "the group gone");
        await Until(() => Config("lb1"), c => c is null, "lb1's empty NodeHaConfig removed");
        await Until(() => Config("lb2"), c => c is null, "lb2's empty NodeHaConfig removed");
        await Until(Events, e => e.Any(x => x.Reason == "VipsReleased"), "a VipsReleased Event");
    }

    /// <summary>An agent's heartbeat Lease as the agent writes it, last renewed at <paramref name="renewed"/>.</summary>
    private Task LeaseAsync(string node, DateTime renewed, int seconds) => _client.CoordinationV1.CreateNamespacedLeaseAsync(new V1Lease
    {
        ApiVersion = "coordination.k8s.io/v1", Kind = "Lease",
        Metadata = new V1ObjectMeta { Name = AgentLeases.LeaseName(node), NamespaceProperty = "default" },
        Spec = new V1LeaseSpec { HolderIdentity = node, LeaseDurationSeconds = seconds, RenewTime = renewed, AcquireTime = renewed },
    }, "default");

    [Fact]
    public async Task A_node_whose_agent_heartbeat_expired_does_not_hold_a_deleted_group_until_the_timeout()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201"));
        await LeaseAsync("lb1", DateTime.UtcNow, 600);
        await LeaseAsync("lb2", DateTime.UtcNow.AddSeconds(-60), 4); // lb2's agent died a minute ago
        StartOperator(releaseTimeout: TimeSpan.FromSeconds(600));
        await Until(() => GroupObject("web"), g => g?.Metadata.Finalizers?.Contains(Kinds.VipsFinalizer) == true, "the finalizer");
        await Until(() => Config("lb2"), c => c is not null, "NodeHaConfig lb2");
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master));
        await ReportAsync("lb2", ("web/0", VrrpInstanceState.Master)); // its last words, never withdrawn

        await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, _ns, Kinds.VirtualIpGroups, "web");
        await Until(() => Config("lb1"), c => c!.Spec.VrrpInstances.Count == 0, "lb1 withdrawn");
        Assert.NotNull(await GroupObject("web")); // lb1 still reports its instance: waited for
        await ReportAsync("lb1");

        // Gone long before the 600 s timeout: lb2, whose agent is not running, counts as released.
        await Until(() => GroupObject("web"), g => g is null, "the group gone without waiting for lb2");
        var assumed = Assert.Single(await Events(), e => e.Reason == GroupEvents.ReleaseAssumed);
        Assert.Equal("Warning", assumed.Type);
        Assert.StartsWith("counted as released: node(s) lb2 (agent heartbeat expired at ", assumed.Note);
        Assert.DoesNotContain(await Events(), e => e.Reason == "ReleaseTimeout");
    }

    [Fact]
    public async Task A_group_whose_agents_never_report_is_released_after_the_timeout_with_a_Warning_Event()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201"));
        StartOperator(releaseTimeout: TimeSpan.FromSeconds(3));
        await Until(() => Config("lb1"), c => c is not null, "NodeHaConfig lb1");
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master)); // and then this agent goes silent
        await Until(() => GroupObject("web"), g => g?.Metadata.Finalizers?.Contains(Kinds.VipsFinalizer) == true, "the finalizer");

        var deletedAt = DateTime.UtcNow;
        await _client.CustomObjects.DeleteNamespacedCustomObjectAsync(ApiGroup.Group, ApiGroup.Version, _ns, Kinds.VirtualIpGroups, "web");
        await Until(() => GroupObject("web"), g => g is null, "the group gone after the timeout");
        Assert.InRange((DateTime.UtcNow - deletedAt).TotalSeconds, 2, 10);
        var timeout = Assert.Single(await Events(), e => e.Reason == "ReleaseTimeout");
        Assert.Equal("Warning", timeout.Type);
        Assert.Contains("lb1", timeout.Note);
    }

    [Fact]
    public async Task Bad_objects_end_as_conditions_and_Events_and_the_rest_is_still_served()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("a", "198.18.0.201") + "\n---\n" + Group("b", "198.18.0.201")
            + "\n---\n" + Group("nopool", "198.18.0.203", pool: "missing")
            + "\n---\n" + Group("nosecret", "198.18.0.204", """
              vrrp: {version: 2, authSecretRef: {name: vrrp-auth, key: password}}
            """.Replace("\n", "\n  ")));
        StartOperator();

        var b = await Until(() => GroupObject("b"), g => ConditionOf(g, "Conflict").Status == "True", "b in conflict");
        Assert.Equal("VipConflict", ConditionOf(b, "Conflict").Reason);
        Assert.Contains("198.18.0.201", ConditionOf(b, "Conflict").Message);
        var noPool = await Until(() => GroupObject("nopool"), g => ConditionOf(g, "Ready").Reason == "PoolMissing", "PoolMissing");
        Assert.Contains("missing", ConditionOf(noPool, "Ready").Message);
        await Until(() => GroupObject("nosecret"), g => ConditionOf(g, "Ready").Reason == "SecretMissing", "SecretMissing");
        await Until(Events, e => new[] { "VipConflict", "PoolMissing", "SecretMissing" }.All(r => e.Any(x => x.Reason == r && x.Type == "Warning")),
            "Warning Events for each");

        // A pool no group refers to is told so.
        await ApplyAsync(Pool("orphan"));
        await Until(() => PoolObject("orphan"), p => ConditionOf(p).Reason == "NotReferenced", "NotReferenced");

        // The Secret appears: the group recovers from SecretMissing (it now waits for its agents like any other).
        await _client.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            ApiVersion = "v1", Kind = "Secret",
            Metadata = new V1ObjectMeta { Name = "vrrp-auth", NamespaceProperty = _ns },
            Data = new Dictionary<string, byte[]> { ["password"] = "s3cret"u8.ToArray() },
        }, _ns);
        await Until(() => GroupObject("nosecret"), g => ConditionOf(g, "Ready").Reason == "NoMaster", "SecretMissing cleared");
        Assert.DoesNotContain("s3cret", _logText.ToString());

        // Group a is planned and served on both nodes in spite of its neighbours.
        var lb1 = await Config("lb1");
        Assert.Contains(lb1!.Spec.VrrpInstances, i => i.Name == $"{_ns}/a/0");
        Assert.DoesNotContain(lb1.Spec.VrrpInstances, i => i.Name == $"{_ns}/b/0");
        Assert.False(_run.IsCompleted);
    }

    [Fact]
    public async Task A_pool_backed_by_a_Service_serves_the_ready_endpoints_of_its_EndpointSlices_and_follows_them()
    {
        await ApplyAsync($$$"""
            apiVersion: nginx-ha.io/v1alpha1
            kind: NginxBackendPool
            metadata: {name: web, namespace: {{{_ns}}}}
            spec:
              listeners: [{port: 80}]
              backends:
                service: {name: web, port: 80}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-abc, namespace: {{{_ns}}}, labels: {kubernetes.io/service-name: web}}
            addressType: IPv4
            ports: [{name: http, port: 8080, protocol: TCP}]
            endpoints:
            - addresses: [198.18.0.21]
              conditions: {ready: true}
            - addresses: [198.18.0.22]
              conditions: {ready: false}
            """ + "\n---\n" + Group("web", "198.18.0.201"));
        StartOperator();
        var lb1 = await Until(() => Config("lb1"), c => c?.Spec.BackendPools.Count == 1, "the pool on lb1");
        Assert.Equal(["198.18.0.21:8080"], lb1!.Spec.BackendPools[0].Spec.Backends.Servers.Select(s => $"{s.Address}:{s.Port}"));

        await _client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch("""
            {"endpoints":[{"addresses":["198.18.0.21"],"conditions":{"ready":true}},{"addresses":["198.18.0.22"],"conditions":{"ready":true}}]}
            """, V1Patch.PatchType.MergePatch), "discovery.k8s.io", "v1", _ns, "endpointslices", "web-abc");
        lb1 = await Until(() => Config("lb1"), c => c?.Spec.BackendPools[0].Spec.Backends.Servers.Count == 2, "the second endpoint on lb1");
        Assert.Equal(["198.18.0.21:8080", "198.18.0.22:8080"], lb1!.Spec.BackendPools[0].Spec.Backends.Servers.Select(s => $"{s.Address}:{s.Port}"));

        var pool = await Until(() => PoolObject("web"), p => p?.Status?.Endpoints.Count == 2 && p.Status.Nodes.Count == 2, "the pool's status");
        Assert.Equal(["198.18.0.21:8080", "198.18.0.22:8080"], pool!.Status!.Endpoints);
        Assert.Equal(["lb1", "lb2"], pool.Status.Nodes);
        Assert.Equal(("True", "Served"), (ConditionOf(pool).Status, ConditionOf(pool).Reason));

        // lb2's nginx refuses the config: the pool names the node and nginx's error.
        await ReportAsync("lb2", new NginxStatus { State = NginxState.Failed, LastError = "nginx: [emerg] unknown directive \"x\"" });
        pool = await Until(() => PoolObject("web"), p => ConditionOf(p).Reason == "NginxRejected", "NginxRejected");
        var rejected = Assert.Single(pool!.Status!.RejectedBy);
        Assert.Equal("lb2", rejected.Node);
        Assert.Contains("unknown directive", rejected.Error);
        await Until(Events, e => e.Any(x => x.Reason == "NginxRejected" && x.Regarding.Kind == "NginxBackendPool"), "a NginxRejected Event");
        // And on the group whose VIPs that node carries, for whoever watches the group.
        await Until(Events, e => e.Any(x => x.Reason == "NginxConfigRejected" && x.Regarding.Kind == "VirtualIpGroup" && x.Type == "Warning"
            && x.Note.StartsWith("nginx refused the config on lb2: nginx: [emerg] unknown directive", StringComparison.Ordinal)), "a NginxConfigRejected Event on the group");
    }

    private async Task<JsonElement?> DnsEndpoint(string name)
    {
        try { return (JsonElement)await _client.CustomObjects.GetNamespacedCustomObjectAsync(DnsEndpoints.Group, DnsEndpoints.Version, _ns, DnsEndpoints.Plural, name); }
        catch (k8s.Autorest.HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.NotFound) { return null; }
    }

    private static string Records(JsonElement? endpoint) => endpoint is null ? "none" : string.Join("; ",
        endpoint.Value.GetProperty("spec").GetProperty("endpoints").EnumerateArray().Select(e =>
            $"{e.GetProperty("dnsName").GetString()} {e.GetProperty("recordType").GetString()} {e.GetProperty("recordTTL").GetInt64()} " +
            string.Join(",", e.GetProperty("targets").EnumerateArray().Select(t => t.GetString()))));

    [Fact]
    public async Task An_annotated_group_gets_a_DNSEndpoint_listing_the_VIPs_that_have_a_master_and_loses_it_with_the_annotation()
    {
        await ApplyAsync(Pool() + "\n---\n" + Group("web", "198.18.0.201, 198.18.0.202").Replace("metadata: {name: web,",
            "metadata: {annotations: {nginx-ha.io/dns-name: www.example.test, nginx-ha.io/dns-ttl: '60'}, name: web,")
            + "\n---\n" + Group("plain", "198.18.0.203"));
        StartOperator(dnsEndpoints: true);
        await Until(() => Config("lb2"), c => c?.Spec.VrrpInstances.Count == 3, "NodeHaConfig lb2");
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Backup), ("plain/0", VrrpInstanceState.Master));
        await ReportAsync("lb2", ("web/0", VrrpInstanceState.Backup), ("web/1", VrrpInstanceState.Master), ("plain/0", VrrpInstanceState.Backup));
        var endpoint = await Until(() => DnsEndpoint("web"), e => Records(e).Contains("198.18.0.202"), "the DNSEndpoint with both VIPs");
        Assert.Equal("www.example.test A 60 198.18.0.201,198.18.0.202", Records(endpoint));
        var owner = endpoint!.Value.GetProperty("metadata").GetProperty("ownerReferences")[0];
        Assert.Equal(("VirtualIpGroup", "web"), (owner.GetProperty("kind").GetString(), owner.GetProperty("name").GetString()));
        Assert.Null(await DnsEndpoint("plain")); // no annotation, no record

        // web/1 has no master any more: its VIP leaves the record set.
        await ReportAsync("lb2", ("web/0", VrrpInstanceState.Backup), ("web/1", VrrpInstanceState.Fault), ("plain/0", VrrpInstanceState.Backup));
        await ReportAsync("lb1", ("web/0", VrrpInstanceState.Master), ("web/1", VrrpInstanceState.Fault), ("plain/0", VrrpInstanceState.Master));
        await Until(() => DnsEndpoint("web"), e => Records(e) == "www.example.test A 60 198.18.0.201", "198.18.0.202 withdrawn from DNS");

        await _client.CustomObjects.PatchNamespacedCustomObjectAsync(new V1Patch("""{"metadata":{"annotations":{"nginx-ha.io/dns-name":null}}}""",
            V1Patch.PatchType.MergePatch), ApiGroup.Group, ApiGroup.Version, _ns, Kinds.VirtualIpGroups, "web");
        await Until(() => DnsEndpoint("web"), e => e is null, "the DNSEndpoint deleted");
    }
}
