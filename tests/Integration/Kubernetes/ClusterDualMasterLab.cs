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
public sealed class ClusterDualMasterLab : DualMasterLabBase<KubernetesNode>
{
    public const string Namespace = "edge";
    public const string Name = "web";
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(6);
    /// <summary>The agents' heartbeat Lease (renewed every second); the operator stops counting a node's report this long after its last renewal.</summary>
    public static readonly TimeSpan HeartbeatDuration = TimeSpan.FromSeconds(4);

    readonly TestCluster _cluster;
    readonly HttpClient _http;

    public ClusterDualMasterLab(TestCluster cluster, string prefix, TimeSpan? probeTimeout = null)
        : base(prefix, "e2e", (lab, name, node) => new KubernetesNode(name, node, cluster.Url.Port, lab.WorkDirectory), probeTimeout)
    {
        _cluster = cluster;
        _http = Own(new HttpClient { BaseAddress = cluster.Url, Timeout = TimeSpan.FromSeconds(5) });
    }

    public List<ChildProcess> Operators { get; } = [];

    /// <summary>
    /// Removes what an earlier lab on the same cluster left (the tests of a class share one): the example's group (its
    /// finalizer first: no operator runs to release it) and pool, the TLS Secret, every NodeHaConfig, and the agents' and
    /// the operator's Leases. Otherwise a new lab starts on the last one's group status (lb1 and lb2 masters, Ready), so a
    /// wait for that status returns before this lab's operator has written anything, and its agents apply the last lab's
    /// NodeHaConfigs before the operator runs.
    /// </summary>
    public static void RemoveLeftovers(TestCluster cluster)
    {
        var (exit, output, error) = cluster.Run("patch", "vipg", Name, "-n", Namespace, "--type=merge", "-p", """{"metadata":{"finalizers":null}}""");
        Assert.True(exit == 0 || error.Contains("NotFound", StringComparison.Ordinal), $"removing the finalizer of a leftover VirtualIpGroup: exit {exit}\n{error}\n{output}");
        cluster.Ok("delete", "vipg,nbp", "--all", "-n", Namespace, "--ignore-not-found");
        cluster.Ok("delete", "secret", "web-tls", "-n", Namespace, "--ignore-not-found");
        cluster.Ok("delete", "nhc", "--all", "--ignore-not-found");
        cluster.Ok("delete", "lease", "-n", "default", "--ignore-not-found", "nginx-ha-operator", "nginx-ha-agent-lb1", "nginx-ha-agent-lb2");
    }

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
        return Own(process);
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

    protected override string FailureDetails() => Output;

    /// <summary>Every agent's and operator's output, for failure messages.</summary>
    public string Output => string.Join("\n", Balancers.Select(b => $"=== {b.Name} ===\n{b.Output}")
        .Concat(Operators.Select(o => $"=== {o.Name} ===\n{string.Join('\n', o.Lines.TakeLast(60))}")));

    /// <summary>Operators first (SIGTERM: they give the Lease up), then the nodes stop their agents cleanly.</summary>
    protected override void StopFirst(List<Exception> failures)
    {
        foreach (var op in Operators.Where(o => !o.HasExited))
        {
            try
            {
                op.Signal(ChildProcess.SIGTERM);
                op.WaitForExitAsync(TimeSpan.FromSeconds(15)).GetAwaiter().GetResult();
            }
            catch (Exception e) { failures.Add(e); }
        }
    }
}

/// <summary>
/// A load balancer node running <c>nginx-ha-agent kubernetes --node NAME</c> (see <see cref="AgentNode"/>): its own loopback
/// relay to the test cluster (cut to make the API unreachable for this node only) and a state directory kept across restarts.
/// </summary>
public sealed class KubernetesNode : AgentNode
{
    readonly LoopbackRelay _relay;

    public KubernetesNode(string name, LabNode node, int clusterPort, string workDirectory)
        : base(name, node, Path.Combine(workDirectory, name))
    {
        _relay = new LoopbackRelay(node, clusterPort);
        Kubeconfig = _relay.WriteKubeconfig(Path.Combine(workDirectory, $"{name}.kubeconfig"));
    }

    public string Kubeconfig { get; }
    public string NginxConfig => Path.Combine(StateDirectory, "nginx", "conf", "nginx.conf");

    protected override (IReadOnlyList<string> Arguments, string Label) AgentCommand() =>
        (["kubernetes", "--node", Name, "--kubeconfig", Kubeconfig, "--state-dir", StateDirectory,
          "--lease-namespace", "default", "--heartbeat-duration", $"{(int)ClusterDualMasterLab.HeartbeatDuration.TotalSeconds}s"], $"kubernetes@{Name}");

    public override void Dispose()
    {
        try { base.Dispose(); }
        finally { _relay.Dispose(); }
    }
}
