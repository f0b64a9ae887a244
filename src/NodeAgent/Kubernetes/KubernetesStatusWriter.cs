using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Node;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>
/// Writes the node's status on its NodeHaConfig's status subresource (merge patch). The status carries the generation
/// of the config the reconciler last handled as observedGeneration. Rate limiting is <see cref="NodeStatusPublisher"/>'s.
/// </summary>
public sealed class KubernetesStatusWriter(KubeApiClient api, string node) : INodeStatusWriter
{
    public Task WriteAsync(NodeHaConfigStatus status, CancellationToken cancellationToken) =>
        api.PatchNodeHaConfigStatusAsync(node, status, cancellationToken);
}
