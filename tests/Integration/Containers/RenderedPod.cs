using KubeCluster = NginxHa.Integration.Tests.Kubernetes.TestCluster;
using NginxHa.Integration.Tests.Kubernetes;
using NginxHa.Integration.Tests.Support;
using YamlDotNet.RepresentationModel;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>A container's security context as the pod spec states it.</summary>
/// <param name="RunAsUser">the container's, else the pod's (as the kubelet resolves it); null: the image's USER.</param>
public sealed record SecurityContext(string? RunAsUser, string? RunAsGroup, bool RunAsNonRoot, bool ReadOnlyRootFilesystem, bool AllowPrivilegeEscalation, bool Privileged,
    IReadOnlyList<string> Drop, IReadOnlyList<string> Add, string? Seccomp);

/// <summary>An env var: a literal value, or a fieldRef path the kubelet fills in.</summary>
public sealed record EnvVar(string Name, string? Value, string? FieldPath);

public sealed record Container(string Name, string Image, IReadOnlyList<string>? Command, IReadOnlyList<string> Args,
    IReadOnlyList<EnvVar> Env, SecurityContext Security, IReadOnlyDictionary<string, string> Mounts, IReadOnlyList<string>? PreStop);

/// <summary>A pod volume: an emptyDir or a hostPath (the chart uses nothing else).</summary>
public sealed record Volume(string Name, bool EmptyDir, string? HostPath);

/// <summary>
/// The pod of a workload (the agent DaemonSet, the operator Deployment) exactly as <c>helm template</c> renders it (the
/// real helm binary, the chart's defaults plus the given <c>--set</c>s): its containers with image, command, args, env,
/// security context and mounts. Nothing is copied by hand: tests start the pod from this.
/// </summary>
public sealed record RenderedPod(bool HostNetwork, bool ShareProcessNamespace, string? PodSeccomp, IReadOnlyList<Container> Containers,
    IReadOnlyList<Volume> Volumes)
{
    public static string HelmBinary
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("HELM") ?? "/usr/local/lib/nginx-ha/helm/helm";
            Assert.True(File.Exists(path), $"helm is required at {path}: run scripts/install-deps.sh (scripts/install-helm.sh)");
            return path;
        }
    }

    public Container Container(string name) => Containers.Single(c => c.Name == name);

    public static RenderedPod Render(string kind, params string[] sets)
    {
        // A local chart: helm reads no repository or cache for it.
        string[] args = ["template", "nha", KubeCluster.RepositoryPath("charts/nginx-ha-operator"), "--namespace", "nginx-ha",
            .. sets.SelectMany(s => new[] { "--set", s })];
        var (exit, output, error) = RequiredTool.Run(HelmBinary, args, TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"helm template exited {exit}: {error}");
        return Parse(output, kind);
    }

    public static RenderedPod Parse(string manifests, string kind)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(manifests));
        var ds = stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().Single(d => Scalar(d, "kind") == kind);
        var pod = Map(ds, "spec", "template", "spec") ?? throw new InvalidOperationException($"{kind} without a pod spec");
        var containers = Seq(pod, "containers")!.OfType<YamlMappingNode>().Select(c => new Container(
            Scalar(c, "name")!,
            Scalar(c, "image")!,
            Strings(c, "command"),
            Strings(c, "args") ?? [],
            (Seq(c, "env")?.OfType<YamlMappingNode>() ?? []).Select(e =>
                new EnvVar(Scalar(e, "name")!, Scalar(e, "value"), Scalar(e, "valueFrom", "fieldRef", "fieldPath"))).ToList(),
            new SecurityContext(
                Scalar(c, "securityContext", "runAsUser") ?? Scalar(pod, "securityContext", "runAsUser"),
                Scalar(c, "securityContext", "runAsGroup") ?? Scalar(pod, "securityContext", "runAsGroup"),
                (Scalar(c, "securityContext", "runAsNonRoot") ?? Scalar(pod, "securityContext", "runAsNonRoot")) == "true",
                Scalar(c, "securityContext", "readOnlyRootFilesystem") == "true",
                Scalar(c, "securityContext", "allowPrivilegeEscalation") != "false",
                Scalar(c, "securityContext", "privileged") == "true",
                Strings(c, "securityContext", "capabilities", "drop") ?? [],
                Strings(c, "securityContext", "capabilities", "add") ?? [],
                Scalar(c, "securityContext", "seccompProfile", "type")),
            (Seq(c, "volumeMounts")?.OfType<YamlMappingNode>() ?? []).ToDictionary(m => Scalar(m, "name")!, m => Scalar(m, "mountPath")!),
            Strings(c, "lifecycle", "preStop", "exec", "command"))).ToList();
        var volumes = (Seq(pod, "volumes")?.OfType<YamlMappingNode>() ?? []).Select(v =>
            new Volume(Scalar(v, "name")!, Get(v, "emptyDir") is not null, Scalar(v, "hostPath", "path"))).ToList();
        return new RenderedPod(Scalar(pod, "hostNetwork") == "true", Scalar(pod, "shareProcessNamespace") == "true",
            Scalar(pod, "securityContext", "seccompProfile", "type"), containers, volumes);
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
    static YamlMappingNode? Map(YamlNode node, params string[] path) => Get(node, path) as YamlMappingNode;
    static YamlSequenceNode? Seq(YamlNode node, params string[] path) => Get(node, path) as YamlSequenceNode;
    static List<string>? Strings(YamlNode node, params string[] path) =>
        Seq(node, path)?.OfType<YamlScalarNode>().Select(s => s.Value ?? "").ToList();
}
