using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using NginxHa.Core.Manifests;
using NginxHa.Core.Planning;
using NginxHa.Integration.Tests.Standalone;
using NginxHa.Integration.Tests.Support;
using NginxHa.NodeAgent.Kubernetes;
using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// Nodes for the chart's agent pods on a private bridge: lb1 (198.18.0.1) and lb2 (.2) in front of real nginx web
/// servers web1 (.3) and web2 (.4), and a client (.5). One ActivePassive VIP, 198.18.0.200/24 (VRRPv3, 100 ms,
/// lb1 preferred). The NodeHaConfigs are what the operator's planner writes for the site, applied with kubectl. Each
/// balancer has its API endpoint (<see cref="ServiceAccountApi"/>) inside its namespace. Dispose removes the pods
/// started through <see cref="StartPod"/>, the endpoints, the backends and the namespaces.
/// </summary>
public sealed class ChartPodLab : IDisposable
{
    public static readonly IPAddress Vip = IPAddress.Parse("198.18.0.200");
    public const int ListenPort = 80;

    readonly NetworkLab _network;
    readonly KubeCluster _cluster;
    readonly DisposableBag _owned = new();
    readonly Dictionary<string, ServiceAccountApi> _apis = [];

    public ChartPodLab(KubeCluster cluster, string prefix, int balancers = 2)
    {
        _cluster = cluster;
        WorkDirectory = Directory.CreateTempSubdirectory($"{prefix}-pods-").FullName;
        // Like /run: the backends' nginx workers (an unprivileged user) must reach their directories below it.
        File.SetUnixFileMode(WorkDirectory, (UnixFileMode)0b111_101_101);
        _network = NetworkLab.Create(prefix, balancers == 2 ? 5 : 1);
        try
        {
            Balancers = _network.Nodes.Take(balancers).ToList();
            foreach (var (node, i) in Balancers.Select((n, i) => (n, i)))
                _apis[$"lb{i + 1}"] = Own(new ServiceAccountApi(node, cluster.Url.Port));
            if (balancers == 2)
            {
                BackendServers.Start(_network.Nodes[2], "web1", WorkDirectory);
                BackendServers.Start(_network.Nodes[3], "web2", WorkDirectory);
            }
            var nodeHaConfigs = NodeHaConfigs(Site(balancers));
            cluster.Ok("apply", "-f", cluster.WriteManifest($"{prefix}-nhc.json", nodeHaConfigs));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string WorkDirectory { get; }
    public IReadOnlyList<LabNode> Balancers { get; }
    public LabNode Web1 => _network.Nodes[2];
    public LabNode Web2 => _network.Nodes[3];
    public LabNode Client => _network.Nodes[4];
    public ServiceAccountApi Api(string node) => _apis[node];
    public LabNode Node(string name) => Balancers[int.Parse(name[2..], System.Globalization.CultureInfo.InvariantCulture) - 1];

    /// <summary>The site in the resources' own terms: one VIP over lb1 and lb2, the two web servers behind it.</summary>
    public static string Site(int balancers) => string.Join("---\n", Enumerable.Range(1, balancers).Select(i => $$$"""
        apiVersion: v1
        kind: Node
        metadata: {name: lb{{{i}}}, labels: {role: edge}}
        status: {addresses: [{type: InternalIP, address: 198.18.0.{{{i}}}}]}

        """)) + $$$"""
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: NginxBackendPool
        metadata: {name: web, namespace: edge}
        spec:
          listeners: [{port: {{{ListenPort}}}}]
          backends: {servers: [{address: 198.18.0.3, port: {{{BackendServers.Port}}}}, {address: 198.18.0.4, port: {{{BackendServers.Port}}}}]}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {name: web, namespace: edge}
        spec:
          mode: ActivePassive
          virtualIPs: [{{{Vip}}}/24]
          nodeSelector: {matchLabels: {role: edge}}
          virtualRouterIds: [71]
          vrrp: {version: 3, advertisementInterval: 100ms, preempt: true}
          backendPoolRef: web

        """;

    /// <summary>The operator's planner on the site: every balancer's NodeHaConfig, as a kubectl List.</summary>
    static string NodeHaConfigs(string site)
    {
        var set = ManifestLoader.LoadText("site.yaml", site);
        Assert.True(set.IsValid, string.Join("\n", set.Errors));
        var plan = Planner.Plan(new PlanInput(set.VirtualIpGroups, set.NginxBackendPools, set.Nodes));
        var items = set.Nodes.Select(n =>
        {
            var json = JsonSerializer.SerializeToNode(plan.ConfigFor(n.Metadata.Name), KubeJsonContext.Default.NodeHaConfig)!.AsObject();
            json.Remove("displayName"); // a computed property of Resource, not a field of the object
            return json.ToJsonString();
        });
        return $$"""{"apiVersion": "v1", "kind": "List", "items": [{{string.Join(",", items)}}]}""";
    }

    /// <summary>Starts the rendered pod on a balancer, as a kubelet would (credentials: that node's service account).</summary>
    public PodmanPod StartPod(PodSpec spec, string node)
    {
        var pod = Own(new PodmanPod(spec, Node(node), node, _apis[node].Mount, node));
        pod.Start();
        return pod;
    }

    public bool Holds(string node) =>
        Node(node).Exec("ip", "-4", "-o", "addr", "show", "dev", NetworkLab.InterfaceName).StandardOutput.Contains($" {Vip}/", StringComparison.Ordinal);

    /// <summary>`ip addr` of every balancer, for failure messages.</summary>
    public string Addresses() => string.Join("\n", Balancers.Select(b => $"{b.Namespace}: " +
        b.TryExec("ip", "-4", "-o", "addr", "show", "dev", NetworkLab.InterfaceName).StandardOutput.Trim()));

    /// <summary>The status line of an HTTP GET from <paramref name="from"/>, or the socket error: what a kubelet's probe sees.</summary>
    public static string HttpStatus(LabNode from, Uri url) => from.Run(() =>
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 2000, SendTimeout = 2000 };
            socket.Connect(new IPEndPoint(IPAddress.Parse(url.Host), url.Port));
            socket.Send(Encoding.ASCII.GetBytes($"GET {url.PathAndQuery} HTTP/1.0\r\nHost: {url.Host}\r\n\r\n"));
            var buffer = new byte[256];
            int read = socket.Receive(buffer);
            return Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n")[0];
        }
        catch (SocketException e)
        {
            return $"error: {e.SocketErrorCode}";
        }
    });

    T Own<T>(T owned) where T : IDisposable => _owned.Own(owned);

    public void Dispose()
    {
        var failures = new List<Exception>();
        _owned.DisposeAll(failures);
        _cluster.Run("delete", "nhc", "--all", "--ignore-not-found");
        try { _network.Dispose(); }
        catch (Exception e) { failures.Add(e); }
        try { Directory.Delete(WorkDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e); }
        if (failures.Count > 0) throw new AggregateException("chart pod lab cleanup failed", failures);
    }
}
