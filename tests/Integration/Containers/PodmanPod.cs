using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// A rendered pod run by podman in place of a kubelet on a lab node (<see cref="PodmanTranslator"/> makes the
/// arguments): volumes are directories of the test's (emptyDir 0777 as the kubelet makes them; a hostPath's stand-in
/// 0755), containers run detached so <c>podman logs</c> and <c>podman inspect</c> can tell what happened. Everything
/// is removed by ID in <see cref="Dispose"/>: the containers, the pod, the directories.
/// </summary>
public sealed class PodmanPod : IDisposable
{
    readonly List<string> _containerIds = [];
    string? _podId;

    /// <param name="podNetwork">the node's namespace is the pod's own network (a pod without hostNetwork)</param>
    public PodmanPod(PodSpec spec, LabNode node, string nodeName, ServiceAccountMount? serviceAccount, string name, bool podNetwork = false)
    {
        WorkDirectory = Directory.CreateTempSubdirectory($"nha-pod-{name}-").FullName;
        var volumes = new Dictionary<string, string>();
        foreach (var volume in spec.Volumes)
        {
            var directory = Path.Combine(WorkDirectory, volume.Kind == PodVolumeKind.EmptyDir ? "empty-dir" : "host-path", volume.Name);
            Directory.CreateDirectory(directory);
            File.SetUnixFileMode(directory, volume.Kind == PodVolumeKind.EmptyDir
                ? (UnixFileMode)0b111_111_111
                : (UnixFileMode)0b111_101_101);
            volumes[volume.Name] = directory;
        }
        Plan = PodmanTranslator.Translate(spec, new PodPlacement($"{name}-{Guid.NewGuid().ToString("N")[..6]}", "nginx-ha", nodeName,
            node.IPv4.ToString(), $"/run/netns/{node.Namespace}", volumes, serviceAccount, podNetwork));
        VolumeDirectories = volumes;
        // The kubelet hands the projected token to the pod's runAsUser when every container runs as that one user (no
        // fsGroup): 0600 and owned by it, so a non-root container reads it and no other user does.
        if (serviceAccount is not null && spec.Containers.Select(c => c.Security.RunAsUser).Distinct().ToList() is [> 0 and var uid])
        {
            var gid = spec.Containers[0].Security.RunAsGroup ?? uid;
            var (exit, _, error) = RequiredTool.Run(RequiredTool.Locate("chown", "coreutils"),
                ["-R", $"{uid}:{gid}", serviceAccount.Directory], TimeSpan.FromSeconds(30));
            if (exit != 0) throw new InvalidOperationException($"chown of the service account directory: {error.Trim()}");
        }
    }

    public PodPlan Plan { get; }
    public string WorkDirectory { get; }
    public IReadOnlyDictionary<string, string> VolumeDirectories { get; }

    /// <summary>Creates the pod, then starts its containers in spec order (as a kubelet starts them).</summary>
    public void Start()
    {
        _podId = Podman.Run([.. Plan.Create]);
        foreach (var container in Plan.Containers) _containerIds.Add(Podman.Run([.. container.Run]));
    }

    string Id(string container) => _containerIds[Plan.Containers.ToList().FindIndex(c => c.Name == container)];

    /// <summary>A container's output so far (stdout and stderr).</summary>
    public string Logs(string container)
    {
        var result = Podman.TryRun("logs", Id(container));
        return result.StandardOutput + result.StandardError;
    }

    /// <summary>Every container's state and output, for failure messages.</summary>
    public string Describe() => string.Join("\n", Plan.Containers.Select(c =>
        $"=== {Plan.PodName}/{c.Name}: {State(c.Name)} ===\n{Logs(c.Name)}"));

    /// <summary>podman inspect's status and exit code, e.g. "running 0" or "exited 1".</summary>
    public string State(string container) =>
        Podman.TryRun("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", Id(container)).StandardOutput.Trim();

    /// <summary>Waits for the container to stop (podman wait: told by conmon, not polled); returns its exit code.</summary>
    public Task<int> WaitForExitAsync(string container, TimeSpan timeout) => Task.Run(() =>
    {
        var result = Podman.TryRun(timeout, "wait", Id(container));
        if (result.ExitCode != 0) throw new InvalidOperationException($"podman wait: {result.StandardError.Trim()}");
        return int.Parse(result.StandardOutput.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    });

    /// <summary>What a kubelet runs first at a stop: the container's preStop, inside the container.</summary>
    public CommandResult PreStop(string container)
    {
        var command = Plan.Container(container).PreStop ?? throw new InvalidOperationException($"{container} has no preStop");
        return Podman.TryRun(TimeSpan.FromSeconds(Plan.GraceSeconds + 10), ["exec", Id(container), .. command]);
    }

    /// <summary>Then SIGTERM, and SIGKILL after the grace period.</summary>
    public CommandResult Stop(string container) =>
        Podman.TryRun(TimeSpan.FromSeconds(Plan.GraceSeconds + 30), "stop", "--time", Plan.GraceSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), Id(container));

    /// <summary>One container dies at once: SIGKILL to its main process (an OOM kill or a crash), by the ID podman gave it.</summary>
    public void Kill(string container) => Podman.Run("kill", "--signal", "KILL", Id(container));

    /// <summary>
    /// A kubelet's restart of a container after a liveness failure: SIGTERM, SIGKILL after the grace period, then the
    /// same container (its volumes, env and security context) started again in the pod.
    /// </summary>
    public CommandResult Restart(string container) =>
        Podman.TryRun(TimeSpan.FromSeconds(Plan.GraceSeconds + 60), "restart", "--time",
            Plan.GraceSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), Id(container));

    /// <summary>A kubelet's restart of a container that exited (restartPolicy Always): the same container started again.</summary>
    public void StartAgain(string container) => Podman.Run("start", Id(container));

    /// <summary>The pod dies at once: SIGKILL to every container (a node or OOM kill; nothing gets to clean up).</summary>
    public void Kill() => Podman.Run("pod", "kill", "--signal", "KILL", _podId ?? throw new InvalidOperationException("not started"));

    public void Dispose()
    {
        var failures = new List<string>();
        foreach (var id in Enumerable.Reverse(_containerIds))
        {
            var result = Podman.TryRun("rm", "--force", "--time", "0", "--ignore", id);
            if (result.ExitCode != 0) failures.Add($"podman rm {id[..12]}: {result.StandardError.Trim()}");
        }
        if (_podId is not null)
        {
            var result = Podman.TryRun("pod", "rm", "--force", "--ignore", _podId);
            if (result.ExitCode != 0) failures.Add($"podman pod rm {_podId[..12]}: {result.StandardError.Trim()}");
        }
        try { Directory.Delete(WorkDirectory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { failures.Add(e.Message); }
        if (failures.Count > 0) throw new InvalidOperationException($"pod {Plan.PodName}: cleanup failed: {string.Join("; ", failures)}");
    }
}
