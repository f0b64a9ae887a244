using NginxHa.Core.Resources;
using NginxHa.NodeAgent.Node;

namespace NginxHa.NodeAgent.Kubernetes;

/// <summary>
/// Writes the node's status on its NodeHaConfig's status subresource (merge patch), with the generation of the config
/// it applied as observedGeneration. Rate limiting is <see cref="NodeStatusPublisher"/>'s.
/// </summary>
public sealed class KubernetesStatusWriter(KubeApiClient api, string node, Func<long?> observedGeneration) : INodeStatusWriter
{
    public Task WriteAsync(NodeHaConfigStatus status, CancellationToken cancellationToken)
    {
        status.ObservedGeneration = observedGeneration();
        return api.PatchNodeHaConfigStatusAsync(node, status, cancellationToken);
    }
}
