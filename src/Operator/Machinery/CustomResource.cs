using k8s;
using k8s.Models;

namespace NginxHa.Operator.Machinery;

/// <summary>
/// A custom resource as the API server sends it: full ObjectMeta (resourceVersion, generation, finalizers,
/// deletionTimestamp) around the Core spec and status types, so the informer can cache it and the planner read it.
/// </summary>
public class CustomResource<TSpec, TStatus> : IKubernetesObject<V1ObjectMeta>
    where TSpec : new()
{
    public string ApiVersion { get; set; } = "";
    public string Kind { get; set; } = "";
    public V1ObjectMeta Metadata { get; set; } = new();
    public TSpec Spec { get; set; } = new();
    public TStatus? Status { get; set; }
}
