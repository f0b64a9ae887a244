using System.Text.Json;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// Starts a rendered pod (<see cref="RenderedPod"/>) with podman the way a kubelet would, on a "node" that is a
/// network namespace of a lab: a pause container (catatonit, the kubelet's pause) holds the network namespace (the
/// node's for a hostNetwork pod; for another pod the namespace stands for the pod's own network) and the pod's shared process namespace (shareProcessNamespace); each container joins them and runs with
/// the image, command, args, env ($(VAR) expanded, fieldRefs filled), mounts and exactly the security context of the
/// spec: user, capabilities dropped/added, read-only root (and no tmpfs podman would add), no-new-privileges, seccomp
/// (podman's default profile is RuntimeDefault). emptyDirs are directories of the test's; a hostPath is a directory
/// standing in for the node's. Dispose removes the containers (by their unique names) and the directories.
/// </summary>
public sealed class PodmanPod : IDisposable
{
    public const string PauseImage = "localhost/nginx-ha-test-pause:" + ContainerImages.Tag;

    readonly RenderedPod _spec;
    readonly LabNode _node;
    readonly string _nodeName;
    readonly List<string> _containers = [];
    readonly List<ChildProcess> _processes = [];
    readonly Dictionary<string, string> _volumeDirectories = [];

    public PodmanPod(RenderedPod spec, LabNode node, string nodeName, string workDirectory, string name)
    {
        _spec = spec;
        _node = node;
        _nodeName = nodeName;
        Name = name;
        WorkDirectory = Path.Combine(workDirectory, name);
        foreach (var volume in spec.Volumes)
        {
            var dir = Path.Combine(WorkDirectory, volume.EmptyDir ? "emptydir" : "host", volume.EmptyDir ? volume.Name : volume.HostPath!.TrimStart('/'));
            Directory.CreateDirectory(dir);
            _volumeDirectories[volume.Name] = dir;
        }
        Directory.CreateDirectory(WorkDirectory);
        // The pause container: the node's network namespace and, when the spec shares it, the pod's PID namespace.
        Podman(["run", "-d", "--name", Infra, "--network", $"ns:/run/netns/{node.Namespace}", "--cap-drop=ALL", "--read-only",
            "--security-opt", "no-new-privileges", .. Limits, PauseImage]);
        _containers.Add(Infra);
    }

    public string Name { get; }
    public string WorkDirectory { get; }
    string Infra => $"{Name}-pause";

    /// <summary>The host directory of a volume (emptyDir or the stand-in for a hostPath).</summary>
    public string VolumeDirectory(string volume) => _volumeDirectories[volume];

    // podman on these machines: runc (crun refuses the hybrid cgroups), cgroupfs, rlimits no higher than ours.
    static readonly string[] Global = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];
    static readonly string[] Limits = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

    static string Binary => RequiredTool.Locate("podman", "podman");

    static CommandResult Podman(params string[] arguments) => Command.Run([Binary, .. Global, .. arguments]);
    static CommandResult TryPodman(params string[] arguments) => Command.TryRun([Binary, .. Global, .. arguments]);

    public string ContainerName(string container) => $"{Name}-{container}";

    /// <summary>
    /// Runs one container of the spec in the foreground of a child process (its output is the container's).
    /// <paramref name="security"/> may change the context (a test removing a capability); <paramref name="extraArgs"/>
    /// and <paramref name="extraMounts"/> are what a kubelet adds (the service account's credentials).
    /// </summary>
    public ChildProcess Start(string container, Func<SecurityContext, SecurityContext>? security = null,
        IReadOnlyList<string>? extraArgs = null, IReadOnlyDictionary<string, string>? extraMounts = null, string? image = null)
    {
        var c = _spec.Container(container);
        var sc = security is null ? c.Security : security(c.Security);
        var env = c.Env.ToDictionary(e => e.Name, e => e.Value ?? FieldRef(e.FieldPath!));
        List<string> args = ["run", "--rm", "--name", ContainerName(container), "--network", $"container:{Infra}", .. Limits];
        if (_spec.ShareProcessNamespace) args.AddRange(["--pid", $"container:{Infra}"]);
        if (sc.RunAsUser is { } user) args.AddRange(["--user", sc.RunAsGroup is { } group ? $"{user}:{group}" : user]);
        // The kubelet refuses to start a runAsNonRoot container as uid 0; so does this stand-in.
        if (sc.RunAsNonRoot) Assert.True(sc.RunAsUser is { } uid && uid != "0", $"{container}: runAsNonRoot needs a non-zero runAsUser here");
        if (sc.ReadOnlyRootFilesystem) args.AddRange(["--read-only", "--read-only-tmpfs=false"]);
        if (!sc.AllowPrivilegeEscalation) args.AddRange(["--security-opt", "no-new-privileges"]);
        Assert.False(sc.Privileged, $"{container}: privileged is not run here");
        var seccomp = sc.Seccomp ?? _spec.PodSeccomp;
        Assert.True(seccomp == "RuntimeDefault", $"{container}: seccomp {seccomp ?? "unset"}: only RuntimeDefault (podman's default profile) is run here");
        foreach (var cap in sc.Drop) args.Add($"--cap-drop={cap}");
        foreach (var cap in sc.Add) args.Add($"--cap-add={cap}");
        foreach (var (name, value) in env) args.AddRange(["--env", $"{name}={value}"]);
        foreach (var (volume, path) in c.Mounts) args.AddRange(["--volume", $"{_volumeDirectories[volume]}:{path}"]);
        foreach (var (host, path) in extraMounts ?? new Dictionary<string, string>()) args.AddRange(["--volume", $"{host}:{path}:ro"]);
        if (c.Command is { } command)
            args.AddRange(["--entrypoint", JsonSerializer.Serialize(command.Select(a => Expand(a, env)).ToArray())]);
        args.Add(image ?? c.Image);
        args.AddRange(c.Args.Select(a => Expand(a, env)));
        args.AddRange(extraArgs ?? []);
        var process = new ChildProcess(Binary, [.. Global, .. args], $"{Name}/{container}");
        _containers.Add(ContainerName(container));
        _processes.Add(process);
        return process;
    }

    /// <summary>What the kubelet runs at a stop: the container's preStop (exec in the container), then SIGTERM and
    /// the grace period (podman stop -t).</summary>
    public CommandResult RunPreStop(string container)
    {
        var preStop = _spec.Container(container).PreStop ?? throw new InvalidOperationException($"{container} has no preStop");
        return TryPodman(["exec", ContainerName(container), .. preStop]);
    }

    public void Stop(string container, int graceSeconds) => TryPodman("stop", "-t", graceSeconds.ToString(), ContainerName(container));

    string FieldRef(string path) => path switch
    {
        "spec.nodeName" => _nodeName,
        "status.hostIP" => _node.IPv4.ToString(),
        "status.podIP" => _node.IPv4.ToString(), // hostNetwork
        "metadata.name" => Name,
        "metadata.namespace" => "nginx-ha",
        _ => throw new InvalidOperationException($"fieldRef {path}: not known to this stand-in for the kubelet"),
    };

    /// <summary>Kubernetes' $(VAR) expansion in command and args.</summary>
    static string Expand(string text, IReadOnlyDictionary<string, string> env)
    {
        foreach (var (name, value) in env) text = text.Replace($"$({name})", value, StringComparison.Ordinal);
        return text;
    }

    public void Dispose()
    {
        var failures = new List<string>();
        foreach (var name in Enumerable.Reverse(_containers))
        {
            var result = TryPodman("rm", "-f", "-t", "0", "--ignore", name);
            if (result.ExitCode != 0) failures.Add($"podman rm {name}: {result.StandardError.Trim()}");
        }
        foreach (var process in _processes) process.Dispose();
        try { Directory.Delete(WorkDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e.Message); }
        if (failures.Count > 0) throw new InvalidOperationException("pod cleanup failed: " + string.Join("; ", failures));
    }

    /// <summary>The pause image: catatonit (static) in pause mode, FROM scratch; built with the images.</summary>
    public static void BuildPauseImage()
    {
        var catatonit = File.Exists("/usr/bin/catatonit") ? "/usr/bin/catatonit"
            : throw new Xunit.Sdk.XunitException("catatonit is required for the pod's pause container (apt-get install catatonit)");
        var buildah = RequiredTool.Locate("buildah", "buildah");
        var working = Command.Run(buildah, "from", "scratch").StandardOutput.Trim();
        try
        {
            Command.Run(buildah, "copy", working, catatonit, "/catatonit");
            Command.Run(buildah, "config", "--entrypoint", """["/catatonit","-P"]""", working);
            Command.Run(buildah, "commit", "--quiet", working, PauseImage);
        }
        finally
        {
            Command.TryRun(buildah, "rm", working);
        }
    }
}
