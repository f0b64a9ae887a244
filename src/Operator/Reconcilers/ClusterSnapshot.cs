using k8s;
using k8s.Models;
using NginxHa.Core.Planning;
using NginxHa.Core.Resources;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// What the informer caches hold at one moment, and its pure translation into the planner's input:
/// Nodes reduced to name, labels and addresses; pools with a Service get the ready endpoints of its
/// EndpointSlices as their servers; groups being deleted are left out, which withdraws their VIPs. The virtual
/// routers every agent reports hearing go to the planner with the node that heard them: automatic VRIDs avoid
/// foreign ones, and a group whose VRID a foreign router uses gets a VridConflict condition.
/// <c>Heartbeats</c>: the agents' heartbeat Leases by node, for the status only (a heartbeat never moves the plan).
/// </summary>
public sealed record ClusterSnapshot(
    IReadOnlyList<VirtualIpGroupResource> Groups,
    IReadOnlyList<NginxBackendPoolResource> Pools,
    IReadOnlyList<V1Node> Nodes,
    IReadOnlyList<V1EndpointSlice> EndpointSlices,
    IReadOnlyList<V1Secret> Secrets,
    IReadOnlyList<NodeHaConfigResource> Configs,
    IReadOnlyDictionary<string, Heartbeat> Heartbeats)
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    public PlanInput ToPlanInput() => ToPlanInput(
        Groups.Where(g => g.Metadata.DeletionTimestamp is null).Select(ToCore).ToList(),
        Pools.Select(p => ToCore(p, EndpointSlices)).ToList(),
        Nodes.Select(ToCore).ToList());

    /// <summary>The input with these planner objects (made from this snapshot's groups, pools and nodes, see <see cref="PlanInputCache"/>).</summary>
    public PlanInput ToPlanInput(IReadOnlyList<VirtualIpGroup> groups, IReadOnlyList<NginxBackendPool> pools, IReadOnlyList<Node> nodes) => new(
        groups, pools, nodes,
        VrrpAllocation.FromNodeHaConfigs(Configs.Select(c => new NodeHaConfig { Metadata = new ObjectMeta { Name = c.Metadata.Name }, Spec = c.Spec })),
        HeardRouters(Configs));

    /// <summary>Every router each agent reports, with its node; entries the schema would refuse are skipped.</summary>
    public static IReadOnlyList<HeardVirtualRouter> HeardRouters(IEnumerable<NodeHaConfigResource> configs) =>
        configs.SelectMany(c => (c.Status?.HeardRouters ?? []).OfType<HeardRouterStatus>()
                .Where(h => h.VirtualRouterId is >= 1 and <= 255 && h.Family is "IPv4" or "IPv6")
                .Select(h => new HeardVirtualRouter(h.Family, h.VirtualRouterId, h.Addresses ?? [], h.Version, h.AuthType,
                    string.IsNullOrEmpty(h.Interface) ? null : h.Interface, c.Metadata.Name, string.IsNullOrEmpty(h.Source) ? null : h.Source)))
            .ToList();

    /// <summary>What a re-plan depends on in a node's heard routers: everything but when they were last heard.</summary>
    public static string HeardRoutersKey(NodeHaConfigStatus? status) =>
        string.Join(";", (status?.HeardRouters ?? []).OfType<HeardRouterStatus>().Select(h =>
            $"{h.Interface}|{h.Source}|{h.Family}|{h.VirtualRouterId}|{h.Version}|{h.AuthType}|{string.Join(",", h.Addresses ?? [])}"));

    public static VirtualIpGroup ToCore(VirtualIpGroupResource group) => new()
    {
        Metadata = Meta(group.Metadata),
        Spec = group.Spec,
    };

    public static Node ToCore(V1Node node)
    {
        var core = new Node { Metadata = Meta(node.Metadata) };
        foreach (var address in node.Status?.Addresses ?? [])
            core.Status.Addresses.Add(new NodeAddress { Type = address.Type, Address = address.Address });
        return core;
    }

    public static bool IsReady(V1Node node) =>
        node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready")?.Status == "True";

    /// <summary>The pool with its Service resolved: every ready endpoint address of the Service's slices, on the
    /// slice's port (its only port, or the one numbered like spec.backends.service.port), in place of the Service.</summary>
    public static NginxBackendPool ToCore(NginxBackendPoolResource pool, IReadOnlyList<V1EndpointSlice> slices)
    {
        var spec = pool.Spec;
        if (spec.Backends.Service is { } service)
        {
            spec = KubernetesJson.Deserialize<NginxBackendPoolSpec>(KubernetesJson.Serialize(pool.Spec)); // never edit the cache
            spec.Backends.Servers = ResolveEndpoints(pool.Metadata.NamespaceProperty, service, slices)
                .Select(e => new BackendServer { Address = e.Address, Port = e.Port }).ToList();
            // The node gets servers or, with no ready endpoint, the bare Service (nginx answers 503): one of them, as the schema demands.
            if (spec.Backends.Servers.Count > 0) spec.Backends.Service = null;
        }
        return new NginxBackendPool { ApiVersion = ApiGroup.ApiVersion, Kind = "NginxBackendPool", Metadata = Meta(pool.Metadata), Spec = spec };
    }

    public static IReadOnlyList<(string Address, int Port)> ResolveEndpoints(string? ns, BackendService service, IReadOnlyList<V1EndpointSlice> slices)
    {
        var result = new SortedSet<(string, int)>();
        foreach (var slice in slices)
        {
            if ((slice.Metadata.NamespaceProperty ?? "default") != (ns ?? "default")) continue;
            if (slice.Metadata.Labels is null || !slice.Metadata.Labels.TryGetValue(ServiceNameLabel, out var owner) || owner != service.Name) continue;
            var ports = slice.Ports ?? [];
            var port = ports.Count == 1 ? ports[0].Port : ports.FirstOrDefault(p => p.Port == service.Port)?.Port;
            if (port is not { } number) continue;
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (endpoint.Conditions?.Ready == false) continue; // unknown counts as ready, as kube-proxy does
                foreach (var address in endpoint.Addresses ?? []) result.Add((address, number));
            }
        }
        return result.ToList();
    }

    public bool SecretHasKey(string? ns, string name, string? key)
    {
        var secret = Secrets.FirstOrDefault(s => s.Metadata.Name == name && (s.Metadata.NamespaceProperty ?? "default") == (ns ?? "default"));
        return secret is not null && (key is null || secret.Data?.ContainsKey(key) == true || secret.StringData?.ContainsKey(key) == true);
    }

    private static ObjectMeta Meta(V1ObjectMeta metadata) => new()
    {
        Name = metadata.Name,
        Namespace = metadata.NamespaceProperty,
        Labels = metadata.Labels is null ? new() : new Dictionary<string, string>(metadata.Labels),
    };
}
