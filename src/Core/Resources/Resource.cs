namespace NginxHa.Core.Resources;

/// <summary>API group and version of every custom resource of this project.</summary>
public static class ApiGroup
{
    public const string Group = "nginx-ha.io";
    public const string Version = "v1alpha1";
    public const string ApiVersion = Group + "/" + Version;

    /// <summary>The agents' heartbeat Leases are named this plus the node's name (written by the agent, read by the operator).</summary>
    public const string AgentLeasePrefix = "nginx-ha-agent-";
}

/// <summary>The subset of Kubernetes ObjectMeta that manifests and the planner use.</summary>
public sealed class ObjectMeta
{
    public string Name { get; set; } = "";
    public string? Namespace { get; set; }
    public Dictionary<string, string> Labels { get; set; } = new();
    public Dictionary<string, string> Annotations { get; set; } = new();
}

/// <summary>A Kubernetes object as it appears in a manifest: apiVersion, kind, metadata.</summary>
public abstract class Resource
{
    // Written first, as kubectl shows them.
    [YamlDotNet.Serialization.YamlMember(Order = -3)] public string ApiVersion { get; set; } = "";
    [YamlDotNet.Serialization.YamlMember(Order = -2)] public string Kind { get; set; } = "";
    [YamlDotNet.Serialization.YamlMember(Order = -1)] public ObjectMeta Metadata { get; set; } = new();

    /// <summary>"namespace/name" for namespaced objects, "name" otherwise.</summary>
    [YamlDotNet.Serialization.YamlIgnore, System.Text.Json.Serialization.JsonIgnore]
    public string DisplayName =>
        string.IsNullOrEmpty(Metadata.Namespace) ? Metadata.Name : $"{Metadata.Namespace}/{Metadata.Name}";
}

/// <summary>
/// One problem found in an input, naming the field by its JSON path (e.g. <c>spec.virtualIPs[1]</c>).
/// Rendered as <c>web.yaml: VirtualIpGroup edge/web: spec.virtualIPs[1]: "198.18.0.300" is not an IP address</c>.
/// </summary>
public sealed record ValidationError(string Source, string Object, string Path, string Message)
{
    private const int PartLength = 300;

    public override string ToString()
    {
        // Every part may carry input (a file name, an object name, a parser's message): each is escaped and cut, so the
        // line is one line, and a huge name costs a few hundred characters, not megabytes.
        var parts = new List<string>(4);
        if (Source.Length > 0) parts.Add(Text.SafeText.Escape(Source, PartLength));
        if (Object.Length > 0) parts.Add(Text.SafeText.Escape(Object, PartLength));
        if (Path.Length > 0) parts.Add(Text.SafeText.Escape(Path, PartLength));
        parts.Add(Text.SafeText.Escape(Message));
        return string.Join(": ", parts);
    }
}
