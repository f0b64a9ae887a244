using YamlDotNet.RepresentationModel;

namespace NginxHa.Operator.Tests.Chart;

/// <summary>
/// What the chart may ask for (issue 11): no privileged container, no host PID/IPC, no host paths but the agent's state directory, capabilities
/// dropped, only NET_ADMIN and NET_RAW added to the agent (and the nginx container's own three), no privilege
/// escalation, read-only root filesystems, seccomp RuntimeDefault, and RBAC without wildcards or escalation verbs, deleting only
/// VirtualIpGroups and NodeHaConfigs.
/// Returns one line per violation.
/// </summary>
public static class PrivilegeCheck
{
    private static readonly Dictionary<string, string[]> AllowedCapabilities = new()
    {
        ["agent"] = ["NET_ADMIN", "NET_RAW"],
        ["nginx"] = ["NET_BIND_SERVICE", "SETUID", "SETGID", "CHOWN"],
    };

    /// <summary>The one hostPath allowed: the agent's state directory (last applied config), for the agent alone.</summary>
    public const string AgentStateVolume = "state";

    private static readonly string[] WorkloadKinds = ["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "CronJob", "Pod"];
    private static readonly string[] ForbiddenVerbs = ["*", "escalate", "bind", "impersonate"];

    /// <summary>The only kinds the chart's accounts may delete: NodeHaConfigs (the operator, when a node leaves; the uninstall hook) and
    /// VirtualIpGroups (the uninstall hook).</summary>
    private static readonly string[] Deletable = ["virtualipgroups", "nodehaconfigs"];

    public static List<string> Violations(IEnumerable<YamlMappingNode> documents)
    {
        var found = new List<string>();
        foreach (var doc in documents)
        {
            var kind = Scalar(doc, "kind") ?? "";
            var name = $"{kind}/{Scalar(doc, "metadata", "name")}";
            if (WorkloadKinds.Contains(kind)) CheckPod(name, kind, PodSpec(doc, kind), found);
            if (kind is "Role" or "ClusterRole") CheckRules(name, doc, found);
        }
        return found;
    }

    private static YamlMappingNode? PodSpec(YamlMappingNode doc, string kind) => kind switch
    {
        "Pod" => Map(doc, "spec"),
        "CronJob" => Map(doc, "spec", "jobTemplate", "spec", "template", "spec"),
        _ => Map(doc, "spec", "template", "spec"),
    };

    private static void CheckPod(string name, string kind, YamlMappingNode? pod, List<string> found)
    {
        if (pod is null) { found.Add($"{name}: no pod spec"); return; }
        foreach (var hostField in new[] { "hostPID", "hostIPC" })
            if (Scalar(pod, hostField) == "true") found.Add($"{name}: {hostField}: true");
        var isAgent = kind == "DaemonSet";
        if (Scalar(pod, "hostNetwork") == "true" && !isAgent) found.Add($"{name}: hostNetwork outside the agent DaemonSet");
        var stateVolume = (string?)null;
        if (Seq(pod, "volumes") is { } volumes)
            foreach (var v in volumes.OfType<YamlMappingNode>())
            {
                if (!v.Children.ContainsKey("hostPath")) continue;
                // One exception: the agent's state directory, mounted by the agent container alone.
                if (isAgent && stateVolume is null && Scalar(v, "name") == AgentStateVolume) stateVolume = AgentStateVolume;
                else found.Add($"{name}: hostPath volume {Scalar(v, "name")}");
            }
        var podSeccomp = Scalar(pod, "securityContext", "seccompProfile", "type");
        var containers = (Seq(pod, "containers")?.OfType<YamlMappingNode>() ?? [])
            .Concat(Seq(pod, "initContainers")?.OfType<YamlMappingNode>() ?? []).ToList();
        if (containers.Count == 0) found.Add($"{name}: no containers");
        foreach (var c in containers)
        {
            var cname = Scalar(c, "name") ?? "?";
            var where = $"{name} container {cname}";
            if (stateVolume is not null && cname != "agent"
                && Seq(c, "volumeMounts")?.OfType<YamlMappingNode>().Any(m => Scalar(m, "name") == stateVolume) == true)
                found.Add($"{where}: mounts the agent's hostPath {stateVolume}");
            if (Scalar(c, "securityContext", "privileged") == "true") found.Add($"{where}: privileged");
            if (Scalar(c, "securityContext", "allowPrivilegeEscalation") != "false") found.Add($"{where}: allowPrivilegeEscalation is not false");
            if (Scalar(c, "securityContext", "readOnlyRootFilesystem") != "true") found.Add($"{where}: root filesystem is not read-only");
            if ((Scalar(c, "securityContext", "seccompProfile", "type") ?? podSeccomp) != "RuntimeDefault") found.Add($"{where}: seccomp is not RuntimeDefault");
            var drop = Seq(c, "securityContext", "capabilities", "drop")?.OfType<YamlScalarNode>().Select(s => s.Value) ?? [];
            if (!drop.Contains("ALL")) found.Add($"{where}: capabilities do not drop ALL");
            var allowed = isAgent && AllowedCapabilities.TryGetValue(cname, out var a) ? a : [];
            foreach (var add in Seq(c, "securityContext", "capabilities", "add")?.OfType<YamlScalarNode>().Select(s => s.Value) ?? [])
                if (!allowed.Contains(add)) found.Add($"{where}: capability {add} beyond {(allowed.Length == 0 ? "none" : string.Join("/", allowed))}");
            var runsAsRoot = (Scalar(c, "securityContext", "runAsUser") ?? Scalar(pod, "securityContext", "runAsUser")) == "0";
            if (!isAgent && (runsAsRoot || (Scalar(c, "securityContext", "runAsNonRoot") ?? Scalar(pod, "securityContext", "runAsNonRoot")) != "true"))
                found.Add($"{where}: may run as root");
        }
    }

    private static void CheckRules(string name, YamlMappingNode doc, List<string> found)
    {
        foreach (var rule in Seq(doc, "rules")?.OfType<YamlMappingNode>() ?? [])
        {
            var verbs = Strings(rule, "verbs");
            var resources = Strings(rule, "resources");
            foreach (var verb in verbs.Intersect(ForbiddenVerbs)) found.Add($"{name}: verb {verb}");
            if (resources.Contains("*") || resources.Any(r => r.EndsWith("/*", StringComparison.Ordinal))) found.Add($"{name}: resource wildcard");
            if (Strings(rule, "apiGroups").Contains("*")) found.Add($"{name}: apiGroup wildcard");
            if (rule.Children.ContainsKey("nonResourceURLs")) found.Add($"{name}: nonResourceURLs");
            if (resources.Contains("secrets") && verbs.Except(["get", "list", "watch"]).Any())
                found.Add($"{name}: writes secrets ({string.Join(",", verbs)})");
            if (verbs.Any(v => v is "delete" or "deletecollection")
                && (!Strings(rule, "apiGroups").SequenceEqual(["nginx-ha.io"]) || resources.Except(Deletable).Any()))
                found.Add($"{name}: deletes {string.Join(",", resources)} (only {string.Join(" and ", Deletable)} of nginx-ha.io)");
            if (resources.Any(r => r is "pods/exec" or "pods/attach" or "nodes/proxy" or "serviceaccounts/token"))
                found.Add($"{name}: {string.Join(",", resources)}");
        }
    }

    private static List<string> Strings(YamlMappingNode node, string key) =>
        Seq(node, key)?.OfType<YamlScalarNode>().Select(s => s.Value ?? "").ToList() ?? [];

    public static YamlNode? Get(YamlNode? node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out node)) return null;
        }
        return node;
    }

    public static string? Scalar(YamlNode? node, params string[] path) => (Get(node, path) as YamlScalarNode)?.Value;
    public static YamlMappingNode? Map(YamlNode? node, params string[] path) => Get(node, path) as YamlMappingNode;
    public static YamlSequenceNode? Seq(YamlNode? node, params string[] path) => Get(node, path) as YamlSequenceNode;
}
