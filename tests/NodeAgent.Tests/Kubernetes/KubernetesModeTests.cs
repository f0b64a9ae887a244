using System.Text;
using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Kubernetes;
using NginxHa.NodeAgent.Sources;
using NginxHa.TestCluster.Tests.Support;

namespace NginxHa.NodeAgent.Tests.Kubernetes;

/// <summary>The test cluster with the project's CRDs applied, shared by the Kubernetes-mode tests.</summary>
public sealed class CrdCluster : IDisposable
{
    public ClusterFixture Cluster { get; } = new();

    public CrdCluster()
    {
        var (code, output, error) = Cluster.Kubectl("apply", "-f", Path.Combine(Cluster.RepoRoot, "crds"));
        Assert.True(code == 0, output + error);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Cluster.Kubectl("get", "nodehaconfigs").Code != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "nodehaconfigs not served within 30 s");
            Thread.Sleep(100);
        }
    }

    public void Dispose() => Cluster.Dispose();
}

/// <summary>
/// A config source's events, read one at a time. Disposing cancels the source before it disposes the iterator, also when
/// an assertion gave up on a MoveNextAsync still waiting: the source then ends on its own (disposing an iterator that is
/// still running is refused, and the assertion's failure is the one to report).
/// </summary>
sealed class SourceEvents : IAsyncDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    readonly CancellationTokenSource _stop = new();
    readonly IAsyncEnumerator<NodeConfigEvent> _events;

    public SourceEvents(KubernetesConfigSource source) => _events = source.WatchAsync(_stop.Token).GetAsyncEnumerator(_stop.Token);

    public async Task<NodeConfigEvent> NextAsync()
    {
        Assert.True(await _events.MoveNextAsync().AsTask().WaitAsync(Wait), "the source ended");
        return _events.Current;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _events.DisposeAsync();
        }
        catch (NotSupportedException)
        {
        }
        _stop.Dispose();
    }
}

/// <summary>
/// Kubernetes mode's parts against the real CRD API server: the NodeHaConfig source (list, watch, 410, Secrets,
/// status-only changes), the status writer as kubectl shows it, and the last config on disk.
/// </summary>
public sealed class KubernetesModeTests(CrdCluster fixture) : IClassFixture<CrdCluster>, IDisposable
{
    readonly ClusterFixture _cluster = fixture.Cluster;
    readonly string _stateDir = Directory.CreateTempSubdirectory("nha-k8s-agent-").FullName;
    readonly List<string> _log = [];

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    KubeApiClient Api() => new(KubeConnection.FromKubeconfig(_cluster.Kubeconfig));

    void Log(string line)
    {
        lock (_log) _log.Add(line);
    }

    void Kubectl(params string[] args)
    {
        var (code, output, error) = _cluster.Kubectl(args);
        Assert.True(code == 0, $"kubectl {string.Join(' ', args)}: {output}{error}");
    }

    void ApplyConfig(string node, int priority, string? secret = null)
    {
        var auth = secret is null ? "" : $"\n    authSecretRef: {{namespace: default, name: {secret}, key: password}}";
        var yaml = $"""
            apiVersion: nginx-ha.io/v1alpha1
            kind: NodeHaConfig
            metadata:
              name: {node}
            spec:
              nodeName: {node}
              vrrpInstances:
              - name: edge/web/0
                group: edge/web
                version: {(secret is null ? 3 : 2)}
                virtualRouterId: 51
                priority: {priority}
                advertisementInterval: 1s
                virtualIPs: [198.18.7.10/24]{auth}
            """;
        ApplyFile($"{node}-{priority}.yaml", yaml);
    }

    /// <summary>Writes <paramref name="text"/> to a file of that name in the state directory and applies it with kubectl.</summary>
    void ApplyFile(string name, string text)
    {
        var file = Path.Combine(_stateDir, name);
        File.WriteAllText(file, text);
        Kubectl("apply", "-f", file);
    }

    /// <summary>A Secret in namespace edge holding <paramref name="data"/>; <paramref name="type"/> null for Opaque.</summary>
    void ApplySecret(string name, string? type, Dictionary<string, byte[]> data)
    {
        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["apiVersion"] = "v1", ["kind"] = "Secret",
            ["metadata"] = new System.Text.Json.Nodes.JsonObject { ["name"] = name, ["namespace"] = "edge" },
            ["data"] = new System.Text.Json.Nodes.JsonObject(data.Select(d => KeyValuePair.Create(d.Key, (System.Text.Json.Nodes.JsonNode?)Convert.ToBase64String(d.Value)))),
        };
        if (type is not null) json["type"] = type;
        ApplyFile($"{name}-{Guid.NewGuid():N}.json", json.ToJsonString());
    }

    /// <summary>A NodeHaConfig for <paramref name="node"/> with one pool, edge/web, whose spec is <paramref name="poolSpec"/> (YAML lines).</summary>
    void ApplyPoolConfig(string node, string fileName, params string[] poolSpec) => ApplyFile(fileName, $$$"""
        apiVersion: nginx-ha.io/v1alpha1
        kind: NodeHaConfig
        metadata:
          name: {{{node}}}
        spec:
          nodeName: {{{node}}}
          backendPools:
          - name: edge/web
            spec:
              {{{string.Join("\n      ", poolSpec)}}}
        """);

    void EnsureEdgeNamespace()
    {
        if (_cluster.Kubectl("get", "namespace", "edge").Code != 0) _cluster.Kubectl("create", "namespace", "edge");
    }

    static int PriorityOf(NodeConfigEvent e) => Assert.IsType<NodeConfigUpdate>(e).Config.Spec.VrrpInstances.Single().Priority;

    [Fact]
    public async Task Source_ListsItsOwnNodeHaConfig_ThenWatchesChanges_IgnoringOtherNodesAndStatusOnlyWrites()
    {
        string node = Unique("node"), other = Unique("other");
        ApplyConfig(node, 100);
        ApplyConfig(other, 100);
        using var api = Api();
        var source = new KubernetesConfigSource(api, node, null, TimeProvider.System, Log);
        await using var events = new SourceEvents(source);

        var first = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal(node, first.Config.Spec.NodeName);
        Assert.Equal(100, PriorityOf(first));
        Assert.Equal(1, first.Generation);

        // A status write (our own) and another node's change: neither is a new config for this node.
        await api.PatchNodeHaConfigStatusAsync(node, new NodeHaConfigStatus { Instances = [new() { Name = "edge/web/0", State = VrrpInstanceState.Master }] }, default);
        ApplyConfig(other, 150);
        ApplyConfig(node, 120);
        var next = await events.NextAsync();
        Assert.Equal(120, PriorityOf(next));
        Assert.Equal(2, next.Generation);

        Kubectl("delete", "nodehaconfig", node);
        var deleted = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Empty(deleted.Config.Spec.VrrpInstances);
    }

    [Fact]
    public async Task Source_WithNoNodeHaConfigYet_HandsOverAnEmptyConfig_SoTheAgentIsReady_ThenTheOneTheOperatorWrites()
    {
        string node = Unique("none");
        using var api = Api();
        var source = new KubernetesConfigSource(api, node, null, TimeProvider.System, Log);
        await using var events = new SourceEvents(source);

        var empty = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal(node, empty.Config.Spec.NodeName);
        Assert.Empty(empty.Config.Spec.VrrpInstances);
        Assert.Null(empty.Generation);

        ApplyConfig(node, 100); // the next event is the operator's config, not the empty one again
        var written = await events.NextAsync();
        Assert.Equal(100, PriorityOf(written));
        Assert.Equal(1, written.Generation);
    }

    [Fact]
    public async Task Source_WatchFromATooOldResourceVersion_Gets410_AndListsAgain()
    {
        string node = Unique("node");
        ApplyConfig(node, 100);
        using var api = Api();
        var source = new KubernetesConfigSource(api, node, null, TimeProvider.System, Log) { InitialResourceVersion = "1" };
        await using var events = new SourceEvents(source);

        var first = await events.NextAsync();
        Assert.Equal(100, PriorityOf(first));
        lock (_log) Assert.Contains(_log, l => l.Contains("watch error 410", StringComparison.Ordinal));
        // After the re-list, the watch follows the object again.
        ApplyConfig(node, 130);
        Assert.Equal(130, PriorityOf(await events.NextAsync()));
    }

    [Fact]
    public async Task Source_ResolvesAuthSecretRef_AndRejectsAMissingSecretByName()
    {
        string node = Unique("node"), secret = Unique("vrrp"), missing = Unique("gone");
        Kubectl("create", "secret", "generic", secret, "-n", "default", "--from-literal=password=s3cret");
        ApplyConfig(node, 100, secret);
        using var api = Api();
        var source = new KubernetesConfigSource(api, node, null, TimeProvider.System, Log);
        await using var events = new SourceEvents(source);

        var update = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal("s3cret", Encoding.UTF8.GetString(update.Secrets.VrrpAuth["edge/web/0"].Span));

        ApplyConfig(node, 110, missing);
        var rejected = Assert.IsType<NodeConfigRejected>(await events.NextAsync());
        Assert.Contains(rejected.Problems, p => p.Contains($"Secret default/{missing} does not exist", StringComparison.Ordinal));
        // The password never reaches the log.
        lock (_log) Assert.DoesNotContain(_log, l => l.Contains("s3cret", StringComparison.Ordinal));
    }

    void ApplyTlsSecret(string name, byte[] certificate, byte[] key) =>
        ApplySecret(name, "kubernetes.io/tls", new() { ["tls.crt"] = certificate, ["tls.key"] = key });

    [Fact]
    public async Task Source_ReadsTheTlsSecretOfAPool_WatchesIt_AndRejectsAMalformedOrMissingOneNamingTheField()
    {
        string node = Unique("node"), secret = Unique("tls");
        var (certificate, key) = Node.TestCertificates.SelfSigned("first.example.org");
        EnsureEdgeNamespace();
        ApplyTlsSecret(secret, certificate, key);
        ApplyPoolConfig(node, $"{node}-tls.yaml",
            $"listeners: [{{port: 80}}, {{port: 443, tls: {{secretName: \"{secret}\"}}}}]",
            "backends: {servers: [{address: 198.18.0.3, port: 8080}]}");
        using var api = Api();
        // Watches renewed only every 10 minutes: a replaced Secret seen sooner was seen by its own watch.
        var source = new KubernetesConfigSource(api, node, new LastConfigStore(_stateDir), TimeProvider.System, Log) { WatchTimeout = TimeSpan.FromMinutes(10) };
        await using var events = new SourceEvents(source);
        var first = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        var pair = first.Secrets.Tls[$"edge/{secret}"];
        Assert.Equal(certificate, pair.Certificate.ToArray());
        Assert.Equal(key, pair.PrivateKey.ToArray());

        // Replaced: handed over again at once, with the new pair.
        var (certificate2, key2) = Node.TestCertificates.SelfSigned("second.example.org");
        ApplyTlsSecret(secret, certificate2, key2);
        var replaced = Assert.IsType<NodeConfigUpdate>(await events.NextAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(certificate2, replaced.Secrets.Tls[$"edge/{secret}"].Certificate.ToArray());
        Assert.Contains("/" + secret + " modified", replaced.Reason);
        replaced.Applied!(); // the reconciler applied it: now it is what a restart starts from
        Assert.Equal(key2, Convert.FromBase64String(new LastConfigStore(_stateDir).Load(Log)!.Tls[$"edge/{secret}"].PrivateKey));

        // A key that is not the certificate's: rejected, naming the field and the Secret's key, never the key's content.
        ApplyTlsSecret(secret, certificate2, key);
        var rejected = Assert.IsType<NodeConfigRejected>(await events.NextAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        var problem = Assert.Single(rejected.Problems);
        Assert.StartsWith($"NodeHaConfig {node}: spec.backendPools[0].spec.listeners[1].tls.secretName: Secret edge/{secret}: tls.key: not the private key", problem);

        Kubectl("delete", "secret", secret, "-n", "edge");
        rejected = Assert.IsType<NodeConfigRejected>(await events.NextAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal($"NodeHaConfig {node}: spec.backendPools[0].spec.listeners[1].tls.secretName: Secret edge/{secret} does not exist", Assert.Single(rejected.Problems));

        var keyLines = string.Join('\n', Encoding.ASCII.GetString(key).Split('\n').Skip(1).SkipLast(2));
        lock (_log) Assert.DoesNotContain(_log, l => l.Contains(keyLines[..40], StringComparison.Ordinal));
    }

    void ApplyTextSecret(string name, string key, string value) => ApplySecret(name, null, new() { [key] = Encoding.UTF8.GetBytes(value) });

    [Fact]
    public async Task Source_ReadsTheBasicAuthSecretOfAStatusEndpoint_WatchesIt_AndRejectsAMissingKeyNamingTheField()
    {
        string node = Unique("node"), secret = Unique("auth");
        EnsureEdgeNamespace();
        ApplyTextSecret(secret, "auth", "ops:{PLAIN}first-pass\n");
        ApplyPoolConfig(node, $"{node}-auth.yaml",
            "listeners: [{port: 80}]",
            "backends: {servers: [{address: 198.18.0.3, port: 8080}]}",
            $"status: {{basicAuth: {{secretName: \"{secret}\"}}}}");
        using var api = Api();
        var source = new KubernetesConfigSource(api, node, new LastConfigStore(_stateDir), TimeProvider.System, Log) { WatchTimeout = TimeSpan.FromMinutes(10) };
        await using var events = new SourceEvents(source);
        var first = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal("ops:{PLAIN}first-pass\n", Encoding.UTF8.GetString(first.Secrets.Htpasswd[$"edge/{secret}"].Content.Span));

        // Replaced: seen through its own watch (the NodeHaConfig watch runs 10 minutes), kept on disk for a restart.
        ApplyTextSecret(secret, "auth", "ops:{PLAIN}second-pass\n");
        var replaced = Assert.IsType<NodeConfigUpdate>(await events.NextAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("ops:{PLAIN}second-pass\n", Encoding.UTF8.GetString(replaced.Secrets.Htpasswd[$"edge/{secret}"].Content.Span));
        Assert.Contains("/" + secret + " modified", replaced.Reason);
        replaced.Applied!();
        Assert.Equal("ops:{PLAIN}second-pass\n",
            Encoding.UTF8.GetString(Convert.FromBase64String(new LastConfigStore(_stateDir).Load(Log)!.Htpasswd[$"edge/{secret}"])));

        // The htpasswd under another key: rejected naming the field and the key.
        Kubectl("delete", "secret", secret, "-n", "edge");
        ApplyTextSecret(secret, "htpasswd", "ops:{PLAIN}second-pass\n");
        var rejected = Assert.IsType<NodeConfigRejected>(await events.NextAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        if (rejected.Problems[0].EndsWith("does not exist", StringComparison.Ordinal)) // the deletion seen before the new one
            rejected = Assert.IsType<NodeConfigRejected>(await events.NextAsync().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal($"NodeHaConfig {node}: spec.backendPools[0].spec.status.basicAuth.secretName: Secret edge/{secret} has no key \"auth\" (the htpasswd file)",
            Assert.Single(rejected.Problems));
        lock (_log) Assert.DoesNotContain(_log, l => l.Contains("second-pass", StringComparison.Ordinal));
    }

    [Fact]
    public async Task StatusWriter_PatchesTheStatusSubresource_AsKubectlGetShowsIt()
    {
        string node = Unique("node");
        ApplyConfig(node, 100);
        using var api = Api();
        var writer = new KubernetesStatusWriter(api, node);
        await writer.WriteAsync(new NodeHaConfigStatus
        {
            Instances = [new() { Name = "edge/web/0", State = VrrpInstanceState.Master, Master = "198.18.7.1", Transitions = 3 }],
            Nginx = new NginxStatus { State = NginxState.Running, ConfigHash = "0123456789ab" },
            ObservedGeneration = 1,
        }, default);

        var (code, table, error) = _cluster.Kubectl("get", "nhc", node);
        Assert.True(code == 0, error);
        var row = table.Split('\n')[1];
        Assert.Contains("edge/web/0", row); // the Masters column
        Assert.Contains("Running", row);    // the Nginx column
        var (_, generation, _) = _cluster.Kubectl("get", "nhc", node, "-o", "jsonpath={.status.observedGeneration} {.status.instances[0].master} {.status.nginx.configHash} {.spec.vrrpInstances[0].priority}");
        Assert.Equal("1 198.18.7.1 0123456789ab 100", generation.Trim()); // the spec is untouched
    }

    [Fact]
    public async Task Source_RestartedWithAnOlderConfigOnDisk_CatchesUpWithTheApiServer_AndSavesTheNewOne()
    {
        string node = Unique("node");
        ApplyConfig(node, 100);
        ApplyConfig(node, 140); // generation 2 on the server
        var store = new LastConfigStore(_stateDir);
        store.Save(new LastAppliedConfig
        {
            Generation = 1,
            Config = new NodeHaConfig { Metadata = { Name = node }, Spec = { NodeName = node, VrrpInstances = [new() { Name = "edge/web/0", Priority = 100, VirtualIPs = ["198.18.7.10/24"] }] } },
        });
        using var api = Api();
        var source = new KubernetesConfigSource(api, node, store, TimeProvider.System, Log);
        await using var events = new SourceEvents(source);

        var fromDisk = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal(100, PriorityOf(fromDisk)); // from disk, at once
        Assert.Null(fromDisk.Applied); // already there
        var caughtUp = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal(140, PriorityOf(caughtUp));
        // On disk only once applied: until then a restart still starts from generation 1, the one that ran.
        Assert.Equal(1, store.Load(Log)?.Generation);
        caughtUp.Applied!();
        var saved = store.Load(Log);
        Assert.Equal(2, saved?.Generation);
        Assert.Equal(140, saved?.Config.Spec.VrrpInstances.Single().Priority);
    }
}

/// <summary>The agent's heartbeat Lease against the real CRD API server (Lease served as a CRD), on a fake clock.</summary>
public sealed class LeaseHeartbeatTests(CrdCluster fixture) : IClassFixture<CrdCluster>
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    readonly ClusterFixture _cluster = fixture.Cluster;
    readonly List<string> _log = [];

    void Log(string line)
    {
        lock (_log) _log.Add(line);
    }

    string Kubectl(params string[] args)
    {
        var (code, output, error) = _cluster.Kubectl(args);
        Assert.True(code == 0, $"kubectl {string.Join(' ', args)}: {output}{error}");
        return output;
    }

    /// <summary>holder, duration, renewTime and resourceVersion of the Lease as the server holds it.</summary>
    (string Holder, string Seconds, string RenewTime, string Version) Lease(string name)
    {
        var fields = Kubectl("get", "lease", "-n", "default", name, "-o",
            "jsonpath={.spec.holderIdentity} {.spec.leaseDurationSeconds} {.spec.renewTime} {.metadata.resourceVersion}").Split(' ');
        return (fields[0], fields[1], fields[2], fields[3]);
    }

    [Fact]
    public async Task Heartbeat_CreatesItsLease_RenewsItWithTheClocksTime_OverAnotherWriter_AndRecreatesItWhenDeleted()
    {
        string node = $"hb-{Guid.NewGuid():N}"[..11], name = $"nginx-ha-agent-{node}";
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));
        using var api = new KubeApiClient(KubeConnection.FromKubeconfig(_cluster.Kubeconfig));
        var heartbeat = new LeaseHeartbeat(api, "default", node, TimeSpan.FromSeconds(8), time, Log);
        Assert.Equal(TimeSpan.FromSeconds(2), heartbeat.RenewInterval);

        await heartbeat.RenewAsync(default);
        var created = Lease(name);
        Assert.Equal((node, "8", "2026-12-02T06:00:00.000000Z"), (created.Holder, created.Seconds, created.RenewTime));

        time.Advance(TimeSpan.FromSeconds(2.5));
        await heartbeat.RenewAsync(default);
        var renewed = Lease(name);
        Assert.Equal("2026-12-02T06:00:02.500000Z", renewed.RenewTime);
        Assert.NotEqual(created.Version, renewed.Version);

        // Someone else wrote the Lease (its resourceVersion moved) and took it: the next renewal reads it again and wins it back.
        Kubectl("patch", "lease", "-n", "default", name, "--type", "merge", "-p", """{"spec": {"holderIdentity": "intruder"}}""");
        time.Advance(TimeSpan.FromSeconds(2));
        await heartbeat.RenewAsync(default);
        Assert.Equal((node, "2026-12-02T06:00:04.500000Z"), (Lease(name).Holder, Lease(name).RenewTime));

        // Deleted: created again.
        Kubectl("delete", "lease", "-n", "default", name);
        time.Advance(TimeSpan.FromSeconds(2));
        await heartbeat.RenewAsync(default);
        Assert.Equal((node, "2026-12-02T06:00:06.500000Z"), (Lease(name).Holder, Lease(name).RenewTime));

        // The loop: one renewal at start, then one per interval of the clock and none before it.
        using var stop = new CancellationTokenSource();
        int before = heartbeat.Renewals;
        var loop = heartbeat.RunAsync(stop.Token);
        await Until(() => heartbeat.Renewals == before + 1, "the first renewal");
        time.Advance(TimeSpan.FromSeconds(1.9));
        await Task.Yield();
        Assert.Equal(before + 1, heartbeat.Renewals);
        time.Advance(TimeSpan.FromSeconds(0.1));
        await Until(() => heartbeat.Renewals == before + 2, "the renewal one interval later");
        Assert.Equal("2026-12-02T06:00:08.500000Z", Lease(name).RenewTime);
        await stop.CancelAsync();
        await loop.WaitAsync(Wait);
        Kubectl("delete", "lease", "-n", "default", name);
    }

    [Fact]
    public async Task Heartbeat_IsNotRenewedWhileALoopOfTheAgentShowsNoProgress_AndIsRenewedAgainOnceItDoes()
    {
        string node = $"hl-{Guid.NewGuid():N}"[..11], name = $"nginx-ha-agent-{node}";
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 6, 0, 0, TimeSpan.Zero));
        using var api = new KubeApiClient(KubeConnection.FromKubeconfig(_cluster.Kubeconfig));
        var liveness = new NginxHa.NodeAgent.Node.AgentLiveness(time);
        bool answering = true;
        liveness.ProbeRequested += () =>
        {
            if (Volatile.Read(ref answering)) liveness.Beat("vrrp edge/web/0");
        };
        liveness.Beat("vrrp edge/web/0");
        var heartbeat = new LeaseHeartbeat(api, "default", node, TimeSpan.FromSeconds(8), time, Log) { Liveness = liveness };
        using var stop = new CancellationTokenSource();
        var loop = heartbeat.RunAsync(stop.Token);
        try
        {
            await Until(() => heartbeat.Renewals == 1, "the first renewal");
            time.Advance(TimeSpan.FromSeconds(2));
            await Until(() => heartbeat.Renewals == 2, "a renewal while the loop answers");

            // The loop hangs (its last beat at 2 s): renewals go on until it has been silent a whole Lease duration (8 s).
            Volatile.Write(ref answering, false);
            for (int renewals = 3; renewals <= 5; renewals++)
            {
                time.Advance(TimeSpan.FromSeconds(2));
                await Until(() => heartbeat.Renewals == renewals, $"renewal {renewals}, the loop silent less than 8 s");
            }
            time.Advance(TimeSpan.FromSeconds(2)); // 10 s: silent for 8 s
            await Until(() => heartbeat.Withheld == 1, "the renewal withheld");
            time.Advance(TimeSpan.FromSeconds(2));
            await Until(() => heartbeat.Withheld == 2, "withheld again");
            Assert.Equal(5, heartbeat.Renewals);
            Assert.Equal("2026-12-02T06:00:08.000000Z", Lease(name).RenewTime); // the Lease expires 8 s after it
            lock (_log) Assert.Single(_log, l => l.Contains("not renewing Lease default/" + name + ": vrrp edge/web/0 has shown no progress for 8 s", StringComparison.Ordinal));

            // It answers again: the next tick renews.
            Volatile.Write(ref answering, true);
            time.Advance(TimeSpan.FromSeconds(2));
            await Until(() => heartbeat.Renewals == 6, "renewed once the loop answers");
            Assert.Equal(2, heartbeat.Withheld);
            Assert.Equal("2026-12-02T06:00:14.000000Z", Lease(name).RenewTime);
        }
        finally
        {
            await stop.CancelAsync();
            await loop.WaitAsync(Wait);
            Kubectl("delete", "lease", "-n", "default", name);
        }
    }

    static async Task Until(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!done())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{what}: not within {Wait.TotalSeconds} s");
            await Task.Delay(20);
        }
    }
}

/// <summary>The last applied config on disk, without a cluster: owner-only, read back whole, served while the API server is away.</summary>
public sealed class LastConfigStoreTests : IDisposable
{
    readonly string _stateDir = Directory.CreateTempSubdirectory("nha-k8s-store-").FullName;

    public void Dispose() => Directory.Delete(_stateDir, recursive: true);

    static void Log(string line) { }

    [Fact]
    public void LastConfigStore_SavesOwnerOnly_AndReadsBackWhatItSaved()
    {
        var store = new LastConfigStore(_stateDir);
        store.Save(new LastAppliedConfig
        {
            Generation = 7,
            Config = new NodeHaConfig { Metadata = { Name = "n1" }, Spec = { NodeName = "n1", VrrpInstances = [new() { Name = "edge/web/0", Priority = 42, VirtualIPs = ["198.18.7.10/24"] }] } },
            VrrpAuth = new() { ["edge/web/0"] = Convert.ToBase64String("pw"u8) },
        });
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));
        var loaded = new LastConfigStore(_stateDir).Load(Log);
        Assert.NotNull(loaded);
        Assert.Equal(7, loaded.Generation);
        Assert.Equal(42, loaded.Config.Spec.VrrpInstances.Single().Priority);
        Assert.Equal("pw", Encoding.UTF8.GetString(Convert.FromBase64String(loaded.VrrpAuth["edge/web/0"])));
    }

    [Fact]
    public async Task Source_WithTheApiServerUnreachable_HandsOverTheLastConfigFromDisk()
    {
        var store = new LastConfigStore(_stateDir);
        store.Save(new LastAppliedConfig
        {
            Generation = 3,
            Config = new NodeHaConfig { Metadata = { Name = "n1" }, Spec = { NodeName = "n1", VrrpInstances = [new() { Name = "edge/web/0", Priority = 90, VirtualIPs = ["198.18.7.10/24"] }] } },
            VrrpAuth = new() { ["edge/web/0"] = Convert.ToBase64String("pw"u8) },
        });
        // A port nothing listens on: every request fails at once.
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        int port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        using var api = new KubeApiClient(new KubeConnection(new Uri($"http://127.0.0.1:{port}"), null, false, null, null));
        var source = new KubernetesConfigSource(api, "n1", store, TimeProvider.System, Log);
        await using var events = new SourceEvents(source);

        var update = Assert.IsType<NodeConfigUpdate>(await events.NextAsync());
        Assert.Equal(90, update.Config.Spec.VrrpInstances.Single().Priority);
        Assert.Equal("pw", Encoding.UTF8.GetString(update.Secrets.VrrpAuth["edge/web/0"].Span));
        Assert.Equal(3, update.Generation);
    }

}
