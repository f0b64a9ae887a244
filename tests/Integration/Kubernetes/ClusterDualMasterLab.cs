using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NginxHa.Integration.Tests.Standalone;
using NginxHa.Integration.Tests.Support;
using NginxHa.Integration.Tests.Vrrp.Interop;

namespace NginxHa.Integration.Tests.Kubernetes;

/// <summary>
/// Seed 000 driven by the cluster: examples/dual-master.yaml applied with kubectl to the test cluster, the operator
/// (<c>nginx-ha-operator run</c>, one or more replicas on the host) writing NodeHaConfigs, and two agents
/// (<c>nginx-ha-agent kubernetes</c>) in network namespaces lb1 (198.18.0.1) and lb2 (.2) reaching the cluster through
/// loopback relays, in front of real nginx web servers web1 (.3) and web2 (.4); the client (.5) probes both VIPs from the
/// start. Everything started here is stopped by PID and every namespace removed by <see cref="Dispose"/>.
/// </summary>
public sealed class ClusterDualMasterLab : IDisposable
{
    public const string Namespace = "edge";
    public const string Name = "web";
    public static readonly IPAddress Vip1 = IPAddress.Parse("198.18.0.201");
    public static readonly IPAddress Vip2 = IPAddress.Parse("198.18.0.202");
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(6);
    /// <summary>The agents' heartbeat Lease (renewed every second); the operator stops counting a node's report this long after its last renewal.</summary>
    public static readonly TimeSpan HeartbeatDuration = TimeSpan.FromSeconds(4);

    readonly TestCluster _cluster;
    readonly NetworkLab _network;
    readonly List<IDisposable> _owned = [];
    readonly HttpClient _http;

    public ClusterDualMasterLab(TestCluster cluster, string prefix)
    {
        _cluster = cluster;
        RequiredTool.Locate("nginx", "nginx");
        WorkDirectory = Directory.CreateTempSubdirectory($"{prefix}-e2e-").FullName;
        // Like /run: nginx workers (an unprivileged user) must reach the state directories below it.
        File.SetUnixFileMode(WorkDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        _http = new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(5) };
        _network = NetworkLab.Create(prefix, 5);
        try
        {
            Lb1 = Own(new KubernetesNode("lb1", _network.Nodes[0], cluster.Url.Port, WorkDirectory));
            Lb2 = Own(new KubernetesNode("lb2", _network.Nodes[1], cluster.Url.Port, WorkDirectory));
            Web1 = _network.Nodes[2];
            Web2 = _network.Nodes[3];
            Client = _network.Nodes[4];
            BackendServers.Start(Web1, "web1", WorkDirectory);
            BackendServers.Start(Web2, "web2", WorkDirectory);
            Probe1 = Own(new VipProbe(Client, Vip1, SeedManifest.ListenPort));
            Probe2 = Own(new VipProbe(Client, Vip2, SeedManifest.ListenPort));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string WorkDirectory { get; }
    public KubernetesNode Lb1 { get; }
    public KubernetesNode Lb2 { get; }
    public LabNode Web1 { get; }
    public LabNode Web2 { get; }
    public LabNode Client { get; }
    public VipProbe Probe1 { get; }
    public VipProbe Probe2 { get; }
    public IReadOnlyList<KubernetesNode> Balancers => [Lb1, Lb2];
    public IReadOnlyList<VipProbe> Probes => [Probe1, Probe2];
    public List<ChildProcess> Operators { get; } = [];

    public static string OperatorDll => Path.Combine(AppContext.BaseDirectory, "nginx-ha-operator.dll");

    /// <summary>
    /// examples/dual-master.yaml on this lab's addresses, without its Node documents (the cluster's Nodes are
    /// <see cref="NodesJson"/>), with round robin: with ip_hash every address of the one client /24 picks the same server,
    /// so an added backend could never be seen serving.
    /// </summary>
    public static string ExampleOnLabAddresses()
    {
        var text = File.ReadAllText(TestCluster.RepositoryPath("examples/dual-master.yaml"));
        var documents = text.Split("\n---\n").Where(d => !Regex.IsMatch(d, @"^kind: Node\s*$", RegexOptions.Multiline));
        var result = string.Join("\n---\n", documents);
        result = Regex.Replace(result, @"198\.18\.0\.(11|12|21|22)\b", m => m.Groups[1].Value switch
        {
            "11" => "198.18.0.1", "12" => "198.18.0.2", "21" => "198.18.0.3", _ => "198.18.0.4",
        });
        Assert.Contains("method: IpHash", result);
        return result.Replace("method: IpHash", "method: RoundRobin");
    }

    /// <summary>The Nodes lb1 and lb2 as a kubelet would report them: labelled for the group, Ready, with their InternalIP.</summary>
    public string NodesJson() => new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "List",
        ["items"] = new JsonArray(Balancers.Select(b => (JsonNode)new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Node",
            ["metadata"] = new JsonObject { ["name"] = b.Name, ["labels"] = new JsonObject { ["nginx-ha.io/role"] = "edge" } },
            ["status"] = new JsonObject
            {
                ["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = b.Address.ToString() }),
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }),
            },
        }).ToArray()),
    }.ToJsonString();

    /// <summary>Starts an operator replica on the host against the cluster, with a short Lease so take-overs are quick.</summary>
    public ChildProcess StartOperator(string identity)
    {
        if (!File.Exists(OperatorDll)) throw new FileNotFoundException("the operator was not built next to the tests", OperatorDll);
        var process = new ChildProcess("dotnet", [OperatorDll, "run", "--kubeconfig", _cluster.Kubeconfig, "--identity", identity,
            "--lease-namespace", "default", "--lease-duration", $"{(int)LeaseDuration.TotalSeconds}s", "--release-timeout", "30s", "--metrics-address", "127.0.0.1:0"], $"operator {identity}");
        Operators.Add(process);
        _owned.Add(process);
        return process;
    }

    /// <summary>The operator replica's /metrics (it logs the port it was given), as Prometheus would scrape it.</summary>
    public async Task<string> ScrapeAsync(ChildProcess op)
    {
        var at = await op.WaitForLineAsync(l => l.Contains("serving /metrics /healthz /readyz on http://", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        var line = op.Lines.First(l => l.Contains("serving /metrics /healthz /readyz on http://", StringComparison.Ordinal));
        var url = line[(line.IndexOf("http://", StringComparison.Ordinal))..].Trim();
        // Without the otel_scope_name label OpenTelemetry's exporter adds to every series: "name{labels} value" as written in docs/metrics.md.
        var text = await _http.GetStringAsync($"{url}/metrics");
        return Regex.Replace(text, @"otel_scope_name=""[^""]*"",?", "").Replace("{}", "", StringComparison.Ordinal);
    }

    /// <summary>The VirtualIpGroup as the API server holds it (null when it is gone), read without kubectl's start-up cost.</summary>
    public JsonNode? Group()
    {
        using var response = _http.GetAsync($"/apis/nginx-ha.io/v1alpha1/namespaces/{Namespace}/virtualipgroups/{Name}").GetAwaiter().GetResult();
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
    }

    /// <summary>"STATUS REASON: MESSAGE" of the group's condition of that type, read as in <see cref="Masters"/>.</summary>
    public string Condition(string type)
    {
        try
        {
            var condition = (Group()?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => (string?)c?["type"] == type);
            return condition is null ? $"(no {type})" : $"{(string?)condition["status"]} {(string?)condition["reason"]}: {(string?)condition["message"]}";
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"(API error: {e.Message})";
        }
    }

    /// <summary>"INSTANCE=STATE" per instance the node's agent last reported on its NodeHaConfig, e.g. "edge/web/0=Master edge/web/1=Backup".</summary>
    public string Reported(string node)
    {
        using var response = _http.GetAsync($"/apis/nginx-ha.io/v1alpha1/nodehaconfigs/{node}").GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        var config = JsonNode.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        return string.Join(' ', (config?["status"]?["instances"] as JsonArray ?? []).Select(i => $"{(string?)i?["name"]}={(string?)i?["state"]}"));
    }

    /// <summary>"VIP=MASTER" per VIP of the group's status, e.g. "198.18.0.201=lb1 198.18.0.202=lb2"; "-" for no master.</summary>
    public string Masters()
    {
        try
        {
            var group = Group();
            if (group?["status"]?["virtualIPs"] is not JsonArray vips) return group is null ? "(no group)" : "(no status)";
            return string.Join(' ', vips.Select(v => $"{(string?)v?["address"]}={(string?)v?["masterNode"] ?? "-"}"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return $"(API error: {e.Message})";
        }
    }

    /// <summary>The node whose agent should master <paramref name="probe"/>'s VIP when both are healthy (VIP i prefers node i).</summary>
    public KubernetesNode PreferredMasterOf(VipProbe probe) => probe == Probe1 ? Lb1 : Lb2;

    public KubernetesNode BalancerAt(IPAddress? via) => Balancers.Single(b => b.Address.Equals(via));

    public string ByBalancer(ProbeSample sample) => sample.Ok ? $"via {BalancerAt(sample.Via).Name}" : sample.Failure!;

    /// <summary>Both VIPs answer through their preferred masters after <paramref name="since"/>, each bound on that node only.</summary>
    public async Task WaitForPreferredMastersAsync(DateTimeOffset since, TimeSpan timeout)
    {
        try
        {
            foreach (var probe in Probes)
            {
                var master = PreferredMasterOf(probe);
                await probe.WaitForAsync(s => s.Ok && master.Address.Equals(s.Via), since, timeout, $"served through {master.Name}", ByBalancer);
                await Eventually.Until(() => Balancers.Where(b => b.Holds(probe.Vip)).Select(b => b.Name).ToArray(),
                    holders => holders.SequenceEqual([master.Name]), TimeSpan.FromSeconds(3), $"{probe.Vip} bound on {master.Name} only");
            }
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}\n{Output}", e);
        }
    }

    /// <summary>Every agent's and operator's output, for failure messages.</summary>
    public string Output => string.Join("\n", Balancers.Select(b => $"=== {b.Name} ===\n{b.Output}")
        .Concat(Operators.Select(o => $"=== {o.Name} ===\n{string.Join('\n', o.Lines.TakeLast(60))}")));

    public Task WaitForBackendsAsync() => BackendServers.WaitUntilServingAsync(Client, Web1, Web2);

    T Own<T>(T owned) where T : IDisposable
    {
        _owned.Add(owned);
        return owned;
    }

    public void Dispose()
    {
        var failures = new List<Exception>();
        // Operators first (SIGTERM: they give the Lease up), then the nodes stop their agents cleanly.
        foreach (var op in Operators.Where(o => !o.HasExited))
        {
            try
            {
                op.Signal(ChildProcess.SIGTERM);
                op.WaitForExitAsync(TimeSpan.FromSeconds(15)).GetAwaiter().GetResult();
            }
            catch (Exception e) { failures.Add(e); }
        }
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            try { _owned[i].Dispose(); }
            catch (Exception e) { failures.Add(e); }
        }
        _http.Dispose();
        try { _network?.Dispose(); }
        catch (Exception e) { failures.Add(e); }
        try { Directory.Delete(WorkDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e); }
        if (failures.Count > 0) throw new AggregateException("cluster dual-master lab cleanup failed", failures);
    }
}

/// <summary>
/// A load balancer node running <c>nginx-ha-agent kubernetes --node NAME</c>: its own loopback relay to the test cluster
/// (cut to make the API unreachable for this node only), a state directory kept across restarts, and nginx found
/// through the agent's pid file so it can be ended by process group.
/// </summary>
public sealed class KubernetesNode : IDisposable
{
    static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);
    readonly List<AgentProcess> _runs = [];
    readonly HashSet<int> _nginxMasters = [];
    readonly LoopbackRelay _relay;

    public KubernetesNode(string name, LabNode node, int clusterPort, string workDirectory)
    {
        Name = name;
        Node = node;
        StateDirectory = Path.Combine(workDirectory, name);
        _relay = new LoopbackRelay(node, clusterPort);
        Kubeconfig = Path.Combine(workDirectory, $"{name}.kubeconfig");
        File.WriteAllText(Kubeconfig, $$$"""
            apiVersion: v1
            kind: Config
            current-context: lab
            contexts: [{name: lab, context: {cluster: lab, user: agent}}]
            clusters: [{name: lab, cluster: {server: "http://127.0.0.1:{{{_relay.Port}}}"}}]
            users: [{name: agent, user: {token: not-checked}}]
            """);
    }

    public string Name { get; }
    public LabNode Node { get; }
    public string StateDirectory { get; }
    public string Kubeconfig { get; }
    public IPAddress Address => Node.IPv4;
    public string NginxPidFile => Path.Combine(StateDirectory, "nginx", "logs", "nginx.pid");
    public string NginxConfig => Path.Combine(StateDirectory, "nginx", "conf", "nginx.conf");

    public AgentProcess Agent => _runs.Count > 0 ? _runs[^1] : throw new InvalidOperationException($"{Name}: no agent was started");
    public string Output => string.Join($"\n--- {Name}: agent restarted ---\n", _runs.Select(r => r.Process.Output));

    public AgentProcess Start()
    {
        if (_runs.Count > 0 && !Agent.Process.HasExited) throw new InvalidOperationException($"{Name}: the agent is already running");
        var agent = new AgentProcess(Node.Namespace, ["kubernetes", "--node", Name, "--kubeconfig", Kubeconfig, "--state-dir", StateDirectory,
            "--lease-namespace", "default", "--heartbeat-duration", $"{(int)ClusterDualMasterLab.HeartbeatDuration.TotalSeconds}s"], $"kubernetes@{Name}");
        _runs.Add(agent);
        return agent;
    }

    /// <summary>SIGTERM (what <c>kill PID</c> and the kubelet send): the agent hands its VIPs over and exits.</summary>
    public Task<int> StopAsync()
    {
        Agent.Process.Signal(ChildProcess.SIGTERM);
        return Agent.Process.WaitForExitAsync(StopTimeout);
    }

    /// <summary>The node dies: SIGKILL to the agent and to its nginx; nothing gets to clean up.</summary>
    public async Task CrashAsync()
    {
        int? nginx = NginxMasterPid();
        Agent.Crash();
        if (nginx is { } pid) StandaloneNode.KillProcessGroup(pid);
        await Agent.Process.WaitForExitAsync(StopTimeout);
    }

    public bool Holds(IPAddress address) =>
        Node.Exec("ip", "-4", "-o", "addr", "show", "dev", Node.InterfaceName).StandardOutput.Contains($" {address}/", StringComparison.Ordinal);

    public int? NginxMasterPid()
    {
        if (!File.Exists(NginxPidFile)) return null;
        if (!int.TryParse(File.ReadAllText(NginxPidFile).Trim(), out int pid) || !StandaloneNode.IsNginxMaster(pid)) return null;
        _nginxMasters.Add(pid);
        return pid;
    }

    public void Dispose()
    {
        var failures = new List<string>();
        if (_runs.Count > 0 && !Agent.Process.HasExited)
        {
            try { StopAsync().GetAwaiter().GetResult(); }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException) { failures.Add(e.Message); }
        }
        NginxMasterPid();
        foreach (int pid in _nginxMasters) StandaloneNode.KillProcessGroup(pid);
        foreach (var run in _runs) run.Dispose();
        _relay.Dispose();
        if (failures.Count > 0) throw new InvalidOperationException($"{Name}: cleanup: {string.Join("; ", failures)}");
    }
}
