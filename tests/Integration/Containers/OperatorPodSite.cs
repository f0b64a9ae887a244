namespace NginxHa.Integration.Tests.Containers;

/// <summary>The operator pod tests' cluster objects: a ready Node and one VIP over it, named with the test's own prefix so
/// no other test's objects are touched.</summary>
static class OperatorPodSite
{
    /// <summary>The operator's own namespace (its Lease) and the site's.</summary>
    public const string Namespaces = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: nginx-ha}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: edge}

        """;

    public static string Manifest(string prefix, string vip, int vrid) => $$$"""
        apiVersion: v1
        kind: Node
        metadata: {name: {{{prefix}}}lb1, labels: {role: {{{prefix}}}-edge}}
        status:
          addresses: [{type: InternalIP, address: 198.18.0.1}]
          conditions: [{type: Ready, status: "True"}]
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: NginxBackendPool
        metadata: {name: {{{prefix}}}web, namespace: edge}
        spec:
          listeners: [{port: 80}]
          backends: {servers: [{address: 198.18.0.3, port: 8080}]}
        ---
        apiVersion: nginx-ha.io/v1alpha1
        kind: VirtualIpGroup
        metadata: {name: {{{prefix}}}web, namespace: edge}
        spec:
          mode: ActivePassive
          virtualIPs: [{{{vip}}}]
          nodeSelector: {matchLabels: {role: {{{prefix}}}-edge}}
          virtualRouterIds: [{{{vrid}}}]
          backendPoolRef: {{{prefix}}}web

        """;
}
