using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace NginxHa.TestCluster.Front;

/// <summary>
/// The built-in kinds the real server serves as CRDs (Lease, EndpointSlice, Event, RBAC): kube-apiserver
/// takes a create or update of a built-in kind without apiVersion/kind in the body (typed clients such as
/// KubernetesClient send none), the CRD server refuses it ("Object 'Kind' is missing"). The front fills
/// them in from the URL, as the built-in endpoint would.
/// </summary>
public static class BuiltinTypeMeta
{
    static readonly Dictionary<(string Group, string Plural), string> Kinds = new()
    {
        [("coordination.k8s.io", "leases")] = "Lease",
        [("discovery.k8s.io", "endpointslices")] = "EndpointSlice",
        [("events.k8s.io", "events")] = "Event",
        [("rbac.authorization.k8s.io", "roles")] = "Role",
        [("rbac.authorization.k8s.io", "clusterroles")] = "ClusterRole",
        [("rbac.authorization.k8s.io", "rolebindings")] = "RoleBinding",
        [("rbac.authorization.k8s.io", "clusterrolebindings")] = "ClusterRoleBinding",
    };

    /// <summary>The body to send instead, or null to pass the request through untouched.</summary>
    public static async Task<byte[]?> Complete(HttpRequest request)
    {
        if (request.Method is not ("POST" or "PUT")) return null;
        if (!(request.ContentType ?? "").StartsWith("application/json", StringComparison.Ordinal)) return null;
        // /apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME[/SUB]]
        var parts = (request.Path.Value ?? "").Trim('/').Split('/');
        if (parts.Length < 4 || parts[0] != "apis") return null;
        var plural = parts.Length >= 6 && parts[3] == "namespaces" ? parts[5] : parts[3];
        if (!Kinds.TryGetValue((parts[1], plural), out var kind)) return null;

        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, request.HttpContext.RequestAborted);
        var bytes = buffer.ToArray();
        try
        {
            if (JsonNode.Parse(bytes) is not JsonObject obj) return bytes;
            obj["apiVersion"] ??= $"{parts[1]}/{parts[2]}";
            obj["kind"] ??= kind;
            return Encoding.UTF8.GetBytes(obj.ToJsonString());
        }
        catch (JsonException)
        {
            return bytes; // the server says what is wrong with it
        }
    }
}
