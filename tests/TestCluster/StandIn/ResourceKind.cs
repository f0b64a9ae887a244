namespace NginxHa.TestCluster.StandIn;

/// <summary>One kind the stand-in serves (the built-in kinds a CRD cannot stand in for).</summary>
public sealed record ResourceKind(
    string Group,
    string Version,
    string Kind,
    string Plural,
    bool Namespaced,
    bool HasStatus,
    string[] ShortNames,
    string[] Categories,
    string[] ExtraFieldLabels)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";
    public string GroupVersionPath => Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";

    /// <summary>The resource as the real server names it in error messages ("secrets", "deployments.apps").</summary>
    public string QualifiedResource => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    public string Singular => Kind.ToLowerInvariant();

    /// <summary>Whether writes bump metadata.generation (kinds with a spec and a status subresource).</summary>
    public bool TracksGeneration => Group is "apps" or "batch";

    public static readonly IReadOnlyList<ResourceKind> All =
    [
        new("", "v1", "Namespace", "namespaces", false, true, ["ns"], [], ["status.phase"]),
        new("", "v1", "Node", "nodes", false, true, ["no"], [], ["spec.unschedulable"]),
        new("", "v1", "Secret", "secrets", true, false, [], [], ["type"]),
        new("", "v1", "ConfigMap", "configmaps", true, false, ["cm"], [], []),
        new("", "v1", "Service", "services", true, true, ["svc"], ["all"], ["spec.clusterIP", "spec.type"]),
        new("", "v1", "ServiceAccount", "serviceaccounts", true, false, ["sa"], [], []),
        new("", "v1", "Event", "events", true, false, ["ev"], [],
            ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
             "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
             "reason", "reportingComponent", "source", "type"]),
        new("apps", "v1", "DaemonSet", "daemonsets", true, true, ["ds"], ["all"], []),
        new("apps", "v1", "Deployment", "deployments", true, true, ["deploy"], ["all"], []),
        // helm's hooks (the chart's pre-delete uninstall Job); no Job controller: a test runs the pod and writes the status.
        new("batch", "v1", "Job", "jobs", true, true, [], ["all"], []),
    ];

    /// <summary>The API groups under /apis the stand-in serves (each at v1).</summary>
    public static readonly IReadOnlyList<string> Groups = ["apps", "batch"];

    public static ResourceKind? Find(string group, string version, string plural) =>
        All.FirstOrDefault(k => k.Group == group && k.Version == version && k.Plural == plural);
}
