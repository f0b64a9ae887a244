using System.Globalization;
using System.Text.Json;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// The node a pod lands on and what the kubelet adds to every container: the node's name and address (for fieldRefs),
/// the network namespace that is the node's network (hostNetwork), a host directory per volume, and the service
/// account: its token directory mounted at the well-known path and the API server's address in the environment.
/// </summary>
/// <param name="PodNetwork">the namespace is the pod's own network (a pod without hostNetwork; HostIP is then its pod IP),
/// not the node's</param>
public sealed record PodPlacement(
    string PodName, string Namespace, string NodeName, string HostIP, string NetworkNamespacePath,
    IReadOnlyDictionary<string, string> VolumeDirectories, ServiceAccountMount? ServiceAccount, bool PodNetwork = false);

/// <param name="Directory">holds token, ca.crt and namespace, as the kubelet's projected volume does</param>
public sealed record ServiceAccountMount(string Directory, string ApiHost, int ApiPort);

/// <summary>One container as podman runs it: the full <c>podman run</c> arguments, its preStop and its probe URLs.</summary>
public sealed record ContainerPlan(string Name, string ContainerName, IReadOnlyList<string> Run, IReadOnlyList<string>? PreStop,
    Uri? Readiness, Uri? Liveness);

/// <summary>A pod as podman runs it: <c>podman pod create</c> arguments, then each container's run, in spec order.</summary>
public sealed record PodPlan(string PodName, IReadOnlyList<string> Create, IReadOnlyList<ContainerPlan> Containers, int GraceSeconds)
{
    public ContainerPlan Container(string name) => Containers.Single(c => c.Name == name);
}

/// <summary>
/// Pure: a pod spec and its placement into podman arguments with exactly the spec's settings, as a kubelet would run it.
/// The pod (its infra container, podman's catatonit pause) holds the IPC and UTS namespaces, and the PID namespace when
/// shareProcessNamespace is set; hostNetwork: every container joins the node's network namespace itself (podman 4.3
/// refuses a namespace path for a pod's network). What podman cannot express exactly is refused, never approximated.
/// </summary>
public static class PodmanTranslator
{
    public const string ServiceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    public static PodPlan Translate(PodSpec spec, PodPlacement placement)
    {
        if (!spec.HostNetwork && !placement.PodNetwork)
            throw new UnsupportedPodFieldException("hostNetwork", "false: the placement gives the node's network, not one of the pod's own");
        if (spec.HostNetwork && placement.PodNetwork)
            throw new UnsupportedPodFieldException("hostNetwork", "true: the placement gives a network of the pod's own, not the node's");
        // The infra container gets no network of its own beyond loopback: nothing on the host's interfaces.
        List<string> create = ["pod", "create", "--name", placement.PodName, "--network", "none",
            "--share", spec.ShareProcessNamespace ? "ipc,uts,pid" : "ipc,uts"];
        var containers = spec.Containers.Select(c => TranslateContainer(c, spec, placement)).ToList();
        return new PodPlan(placement.PodName, create, containers, spec.TerminationGracePeriodSeconds);
    }

    static ContainerPlan TranslateContainer(PodContainer c, PodSpec spec, PodPlacement placement)
    {
        string at = $"containers[{c.Name}]";
        string containerName = $"{placement.PodName}-{c.Name}";
        List<string> run = ["run", "--detach", "--pod", placement.PodName, "--name", containerName, "--pull", "never",
            "--network", $"ns:{placement.NetworkNamespacePath}"];

        var s = c.Security;
        if (s.Privileged) throw new UnsupportedPodFieldException($"{at}.securityContext.privileged", "true is never run here");
        // The kubelet refuses to start a runAsNonRoot container whose user is root, or unknown before the image is read.
        if (s.RunAsNonRoot == true && s.RunAsUser is not > 0)
            throw new UnsupportedPodFieldException($"{at}.securityContext.runAsNonRoot", $"true with runAsUser {s.RunAsUser?.ToString(CultureInfo.InvariantCulture) ?? "unset"}: the kubelet would refuse to start it");
        if (s.RunAsUser is { } uid)
            run.AddRange(["--user", s.RunAsGroup is { } gid ? $"{uid}:{gid}" : uid.ToString(CultureInfo.InvariantCulture)]);
        else if (s.RunAsGroup is not null)
            throw new UnsupportedPodFieldException($"{at}.securityContext.runAsGroup", "without runAsUser is not translated");
        foreach (var group in s.SupplementalGroups) run.AddRange(["--group-add", group.ToString(CultureInfo.InvariantCulture)]);
        // podman would mount a writable tmpfs on /tmp, /run and /var/tmp of a read-only root; a kubelet does not.
        if (s.ReadOnlyRootFilesystem) run.AddRange(["--read-only", "--read-only-tmpfs=false"]);
        // Kubernetes' default (unset) allows escalation, like podman's.
        if (s.AllowPrivilegeEscalation == false) run.AddRange(["--security-opt", "no-new-privileges"]);
        run.AddRange(s.Seccomp switch
        {
            "RuntimeDefault" => [], // podman's default profile is the runtime default
            null or "Unconfined" => ["--security-opt", "seccomp=unconfined"], // the kubelet's default without SeccompDefault
            var other => throw new UnsupportedPodFieldException($"{at}.securityContext.seccompProfile.type", $"{other} is not translated"),
        });
        foreach (var cap in s.Drop) run.Add($"--cap-drop={cap}");
        foreach (var cap in s.Add) run.Add($"--cap-add={cap}");

        if (c.Resources.MemoryLimit is { } memory) run.AddRange(["--memory", memory.ToString(CultureInfo.InvariantCulture)]);
        if (c.Resources.CpuLimitMilli is { } cpu) run.AddRange(["--cpus", (cpu / 1000m).ToString(CultureInfo.InvariantCulture)]);
        // The kubelet's shares for a request: milli * 1024 / 1000, at least 2.
        if (c.Resources.CpuRequestMilli is { } request) run.AddRange(["--cpu-shares", Math.Max(2, request * 1024 / 1000).ToString(CultureInfo.InvariantCulture)]);

        var env = new Dictionary<string, string>();
        foreach (var e in c.Env)
            env[e.Name] = e.FieldPath is { } field ? FieldRef(field, placement, $"{at}.env[{e.Name}]") : Expand(e.Value ?? "", env);
        if (placement.ServiceAccount is { } sa)
        {
            env["KUBERNETES_SERVICE_HOST"] = sa.ApiHost;
            env["KUBERNETES_SERVICE_PORT"] = sa.ApiPort.ToString(CultureInfo.InvariantCulture);
        }
        foreach (var (name, value) in env) run.AddRange(["--env", $"{name}={value}"]);

        foreach (var mount in c.Mounts)
        {
            if (!placement.VolumeDirectories.TryGetValue(mount.Volume, out var directory))
                throw new InvalidOperationException($"{at}: no directory was given for volume {mount.Volume}");
            run.AddRange(["--volume", $"{directory}:{mount.MountPath}{(mount.ReadOnly ? ":ro" : "")}"]);
        }
        if (placement.ServiceAccount is { } account) run.AddRange(["--volume", $"{account.Directory}:{ServiceAccountPath}:ro"]);

        // command replaces the image's entrypoint, args its cmd; $(VAR) names the container's env.
        if (c.Command is { } command) run.AddRange(["--entrypoint", JsonSerializer.Serialize(command.Select(a => Expand(a, env)).ToArray())]);
        run.Add(c.Image);
        run.AddRange(c.Args.Select(a => Expand(a, env)));

        return new ContainerPlan(c.Name, containerName, run, c.PreStop, ProbeUrl(c, c.Readiness, placement, at), ProbeUrl(c, c.Liveness, placement, at));
    }

    /// <summary>The kubelet probes the pod's IP: the node's, for a host-network pod.</summary>
    static Uri? ProbeUrl(PodContainer c, HttpProbe? probe, PodPlacement placement, string at)
    {
        if (probe is null) return null;
        int port = int.TryParse(probe.Port, out var number) ? number
            : c.Ports.TryGetValue(probe.Port, out var named) ? named
            : throw new UnsupportedPodFieldException($"{at}.probe.httpGet.port", $"{probe.Port} names no port of the container");
        return new Uri($"http://{placement.HostIP}:{port}{probe.Path}");
    }

    static string FieldRef(string path, PodPlacement placement, string at) => path switch
    {
        "spec.nodeName" => placement.NodeName,
        "status.podIP" => placement.HostIP,
        "status.hostIP" when !placement.PodNetwork => placement.HostIP, // the same address on the host network
        "metadata.name" => placement.PodName,
        "metadata.namespace" => placement.Namespace,
        _ => throw new UnsupportedPodFieldException($"{at}.valueFrom.fieldRef.fieldPath", $"{path} is not filled in here"),
    };

    /// <summary>Kubernetes' $(VAR) expansion; a reference to an unknown variable stays as written, as in Kubernetes.</summary>
    public static string Expand(string text, IReadOnlyDictionary<string, string> env) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
            m => env.TryGetValue(m.Groups[1].Value, out var value) ? value : m.Value);
}
