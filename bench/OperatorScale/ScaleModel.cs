using k8s.Models;
using NginxHa.Core.Resources;
using NginxHa.Operator.Reconcilers;

namespace NginxHa.Bench.OperatorScale;

public sealed record ScaleOptions
{
    public int Nodes { get; init; } = 200;
    public int Groups { get; init; } = 500;
    public int Pools { get; init; } = 500;
    /// <summary>Nodes per rack: every group selects one rack (label <see cref="ScaleModel.RackLabel"/>) and its own interface there.</summary>
    public int RackSize { get; init; } = 4;
    public int Changes { get; init; } = 100;
    public string Namespace { get; init; } = "bench";
    /// <summary>A simulated agent writes its status at most once per interval, the first change at once (as the real agent does).</summary>
    public TimeSpan StatusInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>After a change has reached every affected node: how long writes are still counted against it.</summary>
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(1.5);
    /// <summary>The initial reconcile is over when every node has its expected config and no config was written for this long.</summary>
    public TimeSpan Stable { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    public IEnumerable<string> Problems()
    {
        if (Nodes < 1) yield return "--nodes must be at least 1";
        if (Groups < 1) yield return "--groups must be at least 1";
        if (Pools < 1) yield return "--pools must be at least 1";
        if (RackSize < 1) yield return "--rack-size must be at least 1";
        if (Changes < 1) yield return "--changes must be at least 1 (the latency percentiles and requests per change are over the changes)";
        if (Nodes > 5000 || Groups > 5000 || Pools > 5000 || Changes > 5000) yield return "--nodes, --groups, --pools and --changes go up to 5000 (the address plan)";
    }
}

/// <summary>One change and how to see that it arrived: the nodes whose NodeHaConfig must change, and the test on their spec.</summary>
public sealed record ScaleChange(int Index, string Description, string Kind, string Namespace, string Plural, string Name, string MergePatch,
    IReadOnlySet<string> AffectedNodes, Func<NodeHaConfigSpec, bool> Arrived);

/// <summary>
/// The simulated cluster, pure: nodes in racks, groups (even: ActivePassive with one VIP, odd: ActiveActive with two)
/// each selecting one rack on that rack's interface (VRIDs are per segment, so 500 groups fit), group i using pool
/// i mod pools. Changes alternate between adding a backend to a pool and moving a group's first VIP.
/// Addresses: nodes 198.18.1.0+, pool servers 198.18.100.0+, added servers 198.18.150.0+, VIPs 198.19.0.0+, moved VIPs 198.19.100.0+.
/// </summary>
public sealed class ScaleModel
{
    public const string RackLabel = "bench.nginx-ha.io/rack";

    private readonly ScaleOptions _options;
    private readonly List<List<BackendServer>> _poolServers;
    private readonly List<List<string>> _groupVips;

    public ScaleModel(ScaleOptions options)
    {
        _options = options;
        Racks = (options.Nodes + options.RackSize - 1) / options.RackSize;
        _poolServers = Enumerable.Range(0, options.Pools)
            .Select(p => new List<BackendServer> { new() { Address = Address(18, 100, p), Port = 8080 } }).ToList();
        _groupVips = Enumerable.Range(0, options.Groups)
            .Select(g => Enumerable.Range(0, VipCount(g)).Select(v => Address(19, 0, g * 2 + v)).ToList()).ToList();
    }

    public int Racks { get; }

    private static string Address(int second, int thirdBase, int n) => $"198.{second}.{thirdBase + n / 250}.{n % 250 + 1}";
    public static string NodeName(int n) => $"node-{n:D4}";
    public static string GroupName(int g) => $"g-{g:D4}";
    public static string PoolName(int p) => $"pool-{p:D4}";
    private int RackOfNode(int n) => n / _options.RackSize;
    private int RackOfGroup(int g) => g % Racks;
    private int PoolOfGroup(int g) => g % _options.Pools;
    private static int VipCount(int g) => g % 2 == 0 ? 1 : 2;
    private static VirtualIpGroupMode Mode(int g) => g % 2 == 0 ? VirtualIpGroupMode.ActivePassive : VirtualIpGroupMode.ActiveActive;

    /// <summary>Every node, pool and group of the model (groups at generation 1), no NodeHaConfig yet: what the operator
    /// sees at its start, without a cluster.</summary>
    public ClusterSnapshot Snapshot()
    {
        var groups = Enumerable.Range(0, _options.Groups).Select(Group).ToList();
        foreach (var g in groups) g.Metadata.Generation = 1;
        var pools = Enumerable.Range(0, _options.Pools).Select(Pool).ToList();
        var nodes = Enumerable.Range(0, _options.Nodes).Select(Node).ToList();
        return new ClusterSnapshot(groups, pools, nodes, [], [], [], new Dictionary<string, Heartbeat>());
    }

    public V1Node Node(int n) => new()
    {
        ApiVersion = "v1", Kind = "Node",
        Metadata = new V1ObjectMeta { Name = NodeName(n), Labels = new Dictionary<string, string> { [RackLabel] = $"r{RackOfNode(n)}" } },
        Status = new V1NodeStatus
        {
            Addresses = [new V1NodeAddress { Type = "InternalIP", Address = Address(18, 1, n) }],
            Conditions = [new V1NodeCondition { Type = "Ready", Status = "True" }],
        },
    };

    public NginxBackendPoolResource Pool(int p) => new()
    {
        ApiVersion = ApiGroup.ApiVersion, Kind = "NginxBackendPool",
        Metadata = new V1ObjectMeta { Name = PoolName(p), NamespaceProperty = _options.Namespace },
        Spec = new NginxBackendPoolSpec
        {
            Listeners = [new NginxListener { Port = 80 }],
            Backends = new Backends { Servers = [.. _poolServers[p]] },
        },
    };

    public VirtualIpGroupResource Group(int g) => new()
    {
        ApiVersion = ApiGroup.ApiVersion, Kind = VirtualIpGroup.KindName,
        Metadata = new V1ObjectMeta { Name = GroupName(g), NamespaceProperty = _options.Namespace },
        Spec = new VirtualIpGroupSpec
        {
            Mode = Mode(g),
            VirtualIPs = [.. _groupVips[g]],
            NodeSelector = new LabelSelector { MatchLabels = new() { [RackLabel] = $"r{RackOfGroup(g)}" } },
            Interface = $"vlan{RackOfGroup(g)}",
            BackendPoolRef = PoolName(PoolOfGroup(g)),
        },
    };

    public IReadOnlyList<string> NodesOfRack(int rack) =>
        Enumerable.Range(rack * _options.RackSize, _options.RackSize).Where(n => n < _options.Nodes).Select(NodeName).ToList();

    /// <summary>What each node's NodeHaConfig must carry once the operator has planned: VRRP instances and pools, by node.</summary>
    public IReadOnlyDictionary<string, (int Instances, int Pools)> Expected()
    {
        var result = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        for (var rack = 0; rack < Racks; rack++)
        {
            var groups = Enumerable.Range(0, _options.Groups).Where(g => RackOfGroup(g) == rack).ToList();
            if (groups.Count == 0) continue;
            var instances = groups.Sum(g => Mode(g) == VirtualIpGroupMode.ActiveActive ? VipCount(g) : 1);
            var pools = groups.Select(PoolOfGroup).Distinct().Count();
            foreach (var node in NodesOfRack(rack)) result[node] = (instances, pools);
        }
        return result;
    }

    /// <summary>Change k (the model moves on with it): even k adds a backend server to a pool, odd k moves a group's first VIP.</summary>
    public ScaleChange Change(int k)
    {
        var target = (int)((long)k * 7919 % _options.Groups); // spread over the groups and racks
        if (k % 2 == 0)
        {
            var p = PoolOfGroup(target);
            var server = new BackendServer { Address = Address(18, 150, k), Port = 8080 };
            _poolServers[p].Add(server);
            var poolKey = $"{_options.Namespace}/{PoolName(p)}";
            var nodes = Enumerable.Range(0, _options.Groups).Where(g => PoolOfGroup(g) == p)
                .SelectMany(g => NodesOfRack(RackOfGroup(g))).ToHashSet(StringComparer.Ordinal);
            var patch = k8s.KubernetesJson.Serialize(new { spec = new { backends = new { servers = _poolServers[p] } } });
            return new ScaleChange(k, $"pool {PoolName(p)}: backend {server.Address}:8080 added", "NginxBackendPool", _options.Namespace,
                Kinds.NginxBackendPools, PoolName(p), patch, nodes,
                spec => spec.BackendPools.Any(b => b.Name == poolKey && b.Spec.Backends.Servers.Any(s => s.Address == server.Address)));
        }
        var vip = Address(19, 100, k);
        var old = _groupVips[target][0];
        _groupVips[target][0] = vip;
        var vipPatch = k8s.KubernetesJson.Serialize(new { spec = new { virtualIPs = _groupVips[target] } });
        return new ScaleChange(k, $"group {GroupName(target)}: VIP {old} -> {vip}", VirtualIpGroup.KindName, _options.Namespace,
            Kinds.VirtualIpGroups, GroupName(target), vipPatch, NodesOfRack(RackOfGroup(target)).ToHashSet(StringComparer.Ordinal),
            spec => spec.VrrpInstances.Any(i => i.VirtualIPs.Any(a => a == vip || a.StartsWith(vip + "/", StringComparison.Ordinal)))); // the config carries ADDRESS/PREFIX
    }
}
