using k8s;
using k8s.Models;

namespace NginxHa.Operator.Reconcilers;

/// <summary>
/// What the informers keep of each object: only what the reconcilers and the change filters read (client-go's informer
/// transforms, by hand). Every object keeps its name, namespace, uid and resourceVersion (a re-list compares them).
/// Each rule has a test that runs the readers on trimmed and untrimmed objects and compares (CachedObjectsTests): a
/// field read later must be added here too.
/// <list type="bullet">
/// <item>Everywhere: no managedFields, no <c>kubectl.kubernetes.io/last-applied-configuration</c> (a second copy of the
/// object, and of a Secret's values).</item>
/// <item>Nodes: labels, status.addresses and the Ready condition's status. Images, capacity, nodeInfo, annotations and
/// the other conditions (a few KB to tens of KB per node) are dropped.</item>
/// <item>Secrets: the names of their keys, never a value; no labels or annotations.</item>
/// <item>EndpointSlices: labels (the Service name), ports, each endpoint's addresses and Ready condition.</item>
/// </list>
/// </summary>
public static class CachedObjects
{
    public const string LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    /// <summary>Our own kinds and Leases, read whole: only managedFields and kubectl's copy of the object go.</summary>
    public static object Metadata(object item)
    {
        if (item is IMetadata<V1ObjectMeta> { Metadata: { } metadata })
        {
            metadata.ManagedFields = null;
            if (metadata.Annotations is { } annotations && annotations.ContainsKey(LastAppliedAnnotation))
            {
                var kept = annotations.Where(a => a.Key != LastAppliedAnnotation).ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal);
                metadata.Annotations = kept.Count == 0 ? null : kept;
            }
        }
        return item;
    }

    public static object Node(object item)
    {
        var node = (V1Node)item;
        var ready = node.Status?.Conditions?.FirstOrDefault(c => c.Type == "Ready");
        return new V1Node
        {
            ApiVersion = node.ApiVersion,
            Kind = node.Kind,
            Metadata = Identity(node.Metadata, node.Metadata?.Labels),
            Status = new V1NodeStatus
            {
                Addresses = node.Status?.Addresses?.Select(a => new V1NodeAddress { Type = a.Type, Address = a.Address }).ToList(),
                Conditions = ready is null ? null : [new V1NodeCondition { Type = ready.Type, Status = ready.Status }],
            },
        };
    }

    public static object Secret(object item)
    {
        var secret = (V1Secret)item;
        var keys = (secret.Data?.Keys ?? Enumerable.Empty<string>()).Concat(secret.StringData?.Keys ?? Enumerable.Empty<string>()).Distinct(StringComparer.Ordinal);
        return new V1Secret
        {
            ApiVersion = secret.ApiVersion,
            Kind = secret.Kind,
            Metadata = Identity(secret.Metadata, labels: null),
            Type = secret.Type,
            Data = secret.Data is null && secret.StringData is null ? null : keys.ToDictionary(k => k, _ => Array.Empty<byte>(), StringComparer.Ordinal),
        };
    }

    public static object EndpointSlice(object item)
    {
        var slice = (V1EndpointSlice)item;
        return new V1EndpointSlice
        {
            ApiVersion = slice.ApiVersion,
            Kind = slice.Kind,
            Metadata = Identity(slice.Metadata, slice.Metadata?.Labels),
            AddressType = slice.AddressType,
            Ports = slice.Ports?.Select(p => new Discoveryv1EndpointPort { Name = p.Name, Port = p.Port, Protocol = p.Protocol }).ToList(),
            Endpoints = slice.Endpoints?.Select(e => new V1Endpoint
            {
                Addresses = e.Addresses,
                Conditions = e.Conditions is null ? null : new V1EndpointConditions { Ready = e.Conditions.Ready },
            }).ToList() ?? [],
        };
    }

    private static V1ObjectMeta Identity(V1ObjectMeta? metadata, IDictionary<string, string>? labels) => new()
    {
        Name = metadata?.Name,
        NamespaceProperty = metadata?.NamespaceProperty,
        Uid = metadata?.Uid,
        ResourceVersion = metadata?.ResourceVersion,
        Generation = metadata?.Generation,
        DeletionTimestamp = metadata?.DeletionTimestamp,
        Labels = labels,
    };
}
