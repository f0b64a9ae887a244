using YamlDotNet.RepresentationModel;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>A container's security context, the container's fields over the pod's (as the kubelet resolves them).</summary>
public sealed record ContainerSecurity(
    long? RunAsUser, long? RunAsGroup, bool? RunAsNonRoot, bool ReadOnlyRootFilesystem, bool? AllowPrivilegeEscalation,
    bool Privileged, IReadOnlyList<string> Drop, IReadOnlyList<string> Add, string? Seccomp)
{
    /// <summary>The pod's supplementalGroups: every container's processes are in them too.</summary>
    public IReadOnlyList<long> SupplementalGroups { get; init; } = [];
}

/// <summary>An env var: a literal value, or a fieldRef path the kubelet fills in.</summary>
public sealed record PodEnvVar(string Name, string? Value, string? FieldPath);

public sealed record PodVolumeMount(string Volume, string MountPath, bool ReadOnly);

/// <summary>An httpGet probe; the port is a number or a container port's name.</summary>
public sealed record HttpProbe(string Path, string Port);

/// <summary>Memory in bytes, CPU in millicores; null when the spec sets none.</summary>
public sealed record ContainerResources(long? MemoryLimit, long? CpuLimitMilli, long? CpuRequestMilli);

public sealed record PodContainer(
    string Name, string Image, IReadOnlyList<string>? Command, IReadOnlyList<string> Args, IReadOnlyList<PodEnvVar> Env,
    ContainerSecurity Security, IReadOnlyList<PodVolumeMount> Mounts, IReadOnlyList<string>? PreStop,
    IReadOnlyDictionary<string, int> Ports, HttpProbe? Readiness, HttpProbe? Liveness, ContainerResources Resources);

public enum PodVolumeKind { EmptyDir, HostPath }

public sealed record PodVolume(string Name, PodVolumeKind Kind, string? HostPath);

/// <summary>
/// The pod of a workload as <c>helm template</c> rendered it: only the fields this project's podman stand-in for a
/// kubelet knows. <see cref="PodSpecReader"/> refuses any other field, so a chart change cannot slip past the pod tests.
/// </summary>
public sealed record PodSpec(
    bool HostNetwork, bool ShareProcessNamespace, int TerminationGracePeriodSeconds, IReadOnlyList<PodContainer> Containers,
    IReadOnlyList<PodVolume> Volumes)
{
    public PodContainer Container(string name) =>
        Containers.SingleOrDefault(c => c.Name == name) ?? throw new KeyNotFoundException($"the pod has no container {name}");

    /// <summary>The same pod with one container changed (a test taking a capability away).</summary>
    public PodSpec WithContainer(string name, Func<PodContainer, PodContainer> change) =>
        this with { Containers = Containers.Select(c => c.Name == name ? change(c) : c).ToList() };
}

/// <summary>The rendered pod spec has a field the podman stand-in does not know: the test must learn it first.</summary>
public sealed class UnsupportedPodFieldException(string path, string reason)
    : Exception($"{path}: {reason}")
{
    public string Path { get; } = path;
}

/// <summary>
/// Reads a workload's pod template out of rendered manifests. Each field is either translated by
/// <see cref="PodmanTranslator"/> or listed here as having no effect on a single node (scheduling, image pulls, metadata);
/// anything else throws <see cref="UnsupportedPodFieldException"/> naming its path.
/// </summary>
public static class PodSpecReader
{
    // Fields that change nothing when the node is given: scheduling, pulls (the images are local), informational ports.
    static readonly HashSet<string> PodIgnored = ["serviceAccountName", "nodeSelector", "tolerations", "affinity", "priorityClassName",
        "imagePullSecrets", "dnsPolicy"];
    static readonly HashSet<string> PodKnown = ["hostNetwork", "shareProcessNamespace", "terminationGracePeriodSeconds", "securityContext",
        "containers", "volumes"];
    static readonly HashSet<string> ContainerIgnored = ["imagePullPolicy"];
    static readonly HashSet<string> ContainerKnown = ["name", "image", "command", "args", "env", "ports", "livenessProbe", "readinessProbe",
        "securityContext", "volumeMounts", "resources", "lifecycle"];
    static readonly HashSet<string> SecurityKnown = ["runAsUser", "runAsGroup", "runAsNonRoot", "privileged", "allowPrivilegeEscalation",
        "readOnlyRootFilesystem", "capabilities", "seccompProfile"];

    /// <summary>The pod template of the one object of <paramref name="kind"/> in <paramref name="manifests"/>.</summary>
    public static PodSpec FromManifests(string manifests, string kind)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(manifests));
        var objects = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Where(d => Scalar(d, "kind") == kind).ToList();
        if (objects.Count != 1) throw new InvalidOperationException($"expected one {kind} in the rendered manifests, found {objects.Count}");
        var template = Get(objects[0], "spec", "template") as YamlMappingNode
            ?? throw new UnsupportedPodFieldException($"{kind}.spec.template", "missing");
        Only(template, $"{kind}.spec.template", ["metadata", "spec"]);
        var pod = Get(template, "spec") as YamlMappingNode ?? throw new UnsupportedPodFieldException($"{kind}.spec.template.spec", "missing");
        return Read(pod, $"{kind}.spec.template.spec");
    }

    static PodSpec Read(YamlMappingNode pod, string at)
    {
        Only(pod, at, [.. PodKnown, .. PodIgnored]);
        var podSecurity = Get(pod, "securityContext") as YamlMappingNode;
        if (podSecurity is not null) Only(podSecurity, $"{at}.securityContext", ["runAsUser", "runAsGroup", "runAsNonRoot", "seccompProfile", "supplementalGroups"]);
        if (Get(pod, "dnsPolicy") is YamlScalarNode { Value: var dns } && dns is not ("ClusterFirstWithHostNet" or "Default" or "ClusterFirst"))
            throw new UnsupportedPodFieldException($"{at}.dnsPolicy", $"{dns} is not known here");
        var containers = Seq(pod, "containers", at).Select((c, i) => ReadContainer(c, $"{at}.containers[{i}]", podSecurity)).ToList();
        var volumes = Seq(pod, "volumes", at).Select((v, i) => ReadVolume(v, $"{at}.volumes[{i}]")).ToList();
        foreach (var (container, mount) in containers.SelectMany(c => c.Mounts.Select(m => (c, m))))
            if (volumes.All(v => v.Name != mount.Volume))
                throw new UnsupportedPodFieldException($"{at}.containers[{container.Name}].volumeMounts[{mount.Volume}]", "no such volume");
        return new PodSpec(Bool(pod, "hostNetwork", at) ?? false, Bool(pod, "shareProcessNamespace", at) ?? false,
            (int)(Long(pod, "terminationGracePeriodSeconds", at) ?? 30), containers, volumes);
    }

    static PodContainer ReadContainer(YamlMappingNode c, string at, YamlMappingNode? podSecurity)
    {
        Only(c, at, [.. ContainerKnown, .. ContainerIgnored]);
        var name = Scalar(c, "name") ?? throw new UnsupportedPodFieldException($"{at}.name", "missing");
        at = $"{at[..at.LastIndexOf('[')]}[{name}]";
        var env = Seq(c, "env", at).Select((e, i) =>
        {
            var path = $"{at}.env[{i}]";
            Only(e, path, ["name", "value", "valueFrom"]);
            string? field = null;
            if (Get(e, "valueFrom") is YamlMappingNode from)
            {
                Only(from, $"{path}.valueFrom", ["fieldRef"]);
                if (Get(from, "fieldRef") is not YamlMappingNode fieldRef) throw new UnsupportedPodFieldException($"{path}.valueFrom", "empty");
                Only(fieldRef, $"{path}.valueFrom.fieldRef", ["fieldPath", "apiVersion"]);
                field = Scalar(from, "fieldRef", "fieldPath");
            }
            return new PodEnvVar(Scalar(e, "name") ?? throw new UnsupportedPodFieldException($"{path}.name", "missing"), Scalar(e, "value"), field);
        }).ToList();
        var mounts = Seq(c, "volumeMounts", at).Select((m, i) =>
        {
            Only(m, $"{at}.volumeMounts[{i}]", ["name", "mountPath", "readOnly"]);
            return new PodVolumeMount(Scalar(m, "name")!, Scalar(m, "mountPath")!, Bool(m, "readOnly", at) ?? false);
        }).ToList();
        var ports = Seq(c, "ports", at).Select((p, i) =>
        {
            Only(p, $"{at}.ports[{i}]", ["name", "containerPort", "protocol"]);
            return (Name: Scalar(p, "name") ?? $"#{i}", Port: (int)Long(p, "containerPort", at)!.Value);
        }).ToDictionary(p => p.Name, p => p.Port);
        List<string>? preStop = null;
        if (Get(c, "lifecycle") is YamlMappingNode lifecycle)
        {
            Only(lifecycle, $"{at}.lifecycle", ["preStop"]);
            if (Get(lifecycle, "preStop") is not YamlMappingNode hook) throw new UnsupportedPodFieldException($"{at}.lifecycle", "empty");
            Only(hook, $"{at}.lifecycle.preStop", ["exec"]);
            preStop = Strings(c, "lifecycle", "preStop", "exec", "command");
        }
        return new PodContainer(name, Scalar(c, "image") ?? throw new UnsupportedPodFieldException($"{at}.image", "missing"),
            Strings(c, "command"), Strings(c, "args") ?? [], env, ReadSecurity(Get(c, "securityContext") as YamlMappingNode, podSecurity, at),
            mounts, preStop, ports, Probe(c, "readinessProbe", at), Probe(c, "livenessProbe", at), ReadResources(c, at));
    }

    static ContainerSecurity ReadSecurity(YamlMappingNode? s, YamlMappingNode? pod, string at)
    {
        at += ".securityContext";
        if (s is not null) Only(s, at, SecurityKnown);
        if (s is not null && Get(s, "capabilities") is YamlMappingNode caps) Only(caps, $"{at}.capabilities", ["drop", "add"]);
        string? Seccomp(YamlMappingNode? node, string path)
        {
            if (node is null || Get(node, "seccompProfile") is not YamlMappingNode profile) return null;
            Only(profile, $"{path}.seccompProfile", ["type"]);
            return Scalar(profile, "type");
        }
        long? Either(string field) => (s is null ? null : Long(s, field, at)) ?? (pod is null ? null : Long(pod, field, at));
        return new ContainerSecurity(
            Either("runAsUser"), Either("runAsGroup"),
            (s is null ? null : Bool(s, "runAsNonRoot", at)) ?? (pod is null ? null : Bool(pod, "runAsNonRoot", at)),
            s is not null && (Bool(s, "readOnlyRootFilesystem", at) ?? false),
            s is null ? null : Bool(s, "allowPrivilegeEscalation", at),
            s is not null && (Bool(s, "privileged", at) ?? false),
            (s is null ? null : Strings(s, "capabilities", "drop")) ?? [],
            (s is null ? null : Strings(s, "capabilities", "add")) ?? [],
            Seccomp(s, at) ?? Seccomp(pod, at))
        {
            SupplementalGroups = pod is null ? [] : (Strings(pod, "supplementalGroups") ?? []).Select(g => long.TryParse(g, out var gid) && gid >= 0 ? gid
                : throw new UnsupportedPodFieldException($"{at}.supplementalGroups", $"\"{g}\" is not a group id")).ToList(),
        };
    }

    static HttpProbe? Probe(YamlMappingNode c, string field, string at)
    {
        if (Get(c, field) is not YamlMappingNode probe) return null;
        Only(probe, $"{at}.{field}", ["httpGet", "periodSeconds", "failureThreshold", "initialDelaySeconds", "timeoutSeconds", "successThreshold"]);
        var get = Get(probe, "httpGet") as YamlMappingNode ?? throw new UnsupportedPodFieldException($"{at}.{field}", "only httpGet probes are known here");
        Only(get, $"{at}.{field}.httpGet", ["path", "port"]);
        return new HttpProbe(Scalar(get, "path") ?? "/", Scalar(get, "port")!);
    }

    static ContainerResources ReadResources(YamlMappingNode c, string at)
    {
        if (Get(c, "resources") is not YamlMappingNode r) return new(null, null, null);
        Only(r, $"{at}.resources", ["limits", "requests"]);
        foreach (var part in new[] { "limits", "requests" })
            if (Get(r, part) is YamlMappingNode m) Only(m, $"{at}.resources.{part}", ["cpu", "memory"]);
        return new ContainerResources(Quantity.Bytes(Scalar(r, "limits", "memory")), Quantity.MilliCpu(Scalar(r, "limits", "cpu")),
            Quantity.MilliCpu(Scalar(r, "requests", "cpu")));
    }

    static PodVolume ReadVolume(YamlMappingNode v, string at)
    {
        Only(v, at, ["name", "emptyDir", "hostPath"]);
        var name = Scalar(v, "name") ?? throw new UnsupportedPodFieldException($"{at}.name", "missing");
        if (Get(v, "emptyDir") is YamlMappingNode empty)
        {
            // medium Memory and sizeLimit: a directory of the test's stands in (shared by the containers, as in a pod).
            Only(empty, $"{at}.emptyDir", ["medium", "sizeLimit"]);
            return new PodVolume(name, PodVolumeKind.EmptyDir, null);
        }
        if (Get(v, "hostPath") is YamlMappingNode host)
        {
            Only(host, $"{at}.hostPath", ["path", "type"]);
            if (Scalar(host, "type") is { } type && type is not ("DirectoryOrCreate" or "Directory"))
                throw new UnsupportedPodFieldException($"{at}.hostPath.type", $"{type} is not known here");
            return new PodVolume(name, PodVolumeKind.HostPath, Scalar(host, "path"));
        }
        throw new UnsupportedPodFieldException(at, "only emptyDir and hostPath volumes are known here");
    }

    /// <summary>Throws for the first key of <paramref name="node"/> not in <paramref name="known"/>.</summary>
    static void Only(YamlMappingNode node, string at, IEnumerable<string> known)
    {
        var set = known.ToHashSet();
        foreach (var key in node.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value!))
            if (!set.Contains(key)) throw new UnsupportedPodFieldException($"{at}.{key}", "not known to the podman stand-in for a kubelet");
    }

    static YamlNode? Get(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next)) return null;
            node = next;
        }
        return node;
    }

    static string? Scalar(YamlNode node, params string[] path) => (Get(node, path) as YamlScalarNode)?.Value;

    static IEnumerable<YamlMappingNode> Seq(YamlNode node, string field, string at) => Get(node, field) switch
    {
        null => [],
        YamlSequenceNode s => s.Select((item, i) => item as YamlMappingNode ?? throw new UnsupportedPodFieldException($"{at}.{field}[{i}]", "not a mapping")),
        _ => throw new UnsupportedPodFieldException($"{at}.{field}", "not a list"),
    };

    static List<string>? Strings(YamlNode node, params string[] path) =>
        (Get(node, path) as YamlSequenceNode)?.Select(s => (s as YamlScalarNode)?.Value ?? "").ToList();

    static bool? Bool(YamlNode node, string field, string at) => Scalar(node, field) switch
    {
        null => null,
        "true" => true,
        "false" => false,
        var other => throw new UnsupportedPodFieldException($"{at}.{field}", $"\"{other}\" is not a boolean"),
    };

    static long? Long(YamlNode node, string field, string at) => Scalar(node, field) switch
    {
        null => null,
        var text when long.TryParse(text, out var value) => value,
        var other => throw new UnsupportedPodFieldException($"{at}.{field}", $"\"{other}\" is not an integer"),
    };
}

/// <summary>Kubernetes resource quantities, the forms a chart writes (128Mi, 1G, 500m, 2).</summary>
public static class Quantity
{
    public static long? Bytes(string? text)
    {
        if (text is null) return null;
        (string Suffix, long Factor)[] units = [("Ki", 1L << 10), ("Mi", 1L << 20), ("Gi", 1L << 30), ("k", 1000), ("M", 1_000_000), ("G", 1_000_000_000)];
        foreach (var (suffix, factor) in units)
            if (text.EndsWith(suffix, StringComparison.Ordinal) && long.TryParse(text[..^suffix.Length], out var n)) return n * factor;
        return long.TryParse(text, out var bytes) ? bytes : throw new FormatException($"memory quantity \"{text}\" is not understood");
    }

    public static long? MilliCpu(string? text)
    {
        if (text is null) return null;
        if (text.EndsWith('m') && long.TryParse(text[..^1], out var milli)) return milli;
        return decimal.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var cores)
            ? (long)(cores * 1000) : throw new FormatException($"cpu quantity \"{text}\" is not understood");
    }
}
