using System.Diagnostics;
using NginxHa.Integration.Tests.Support;

namespace NginxHa.Integration.Tests.Containers;

/// <summary>
/// Runs podman as these machines need it (docs/helm.md, PLATFORM-NOTES "Containers"): runc (crun refuses the hybrid
/// cgroups), cgroupfs, and rlimits no higher than the test process's own, also for a pod's infra container, which takes
/// no --ulimit: hence a containers.conf of the tests' own (CONTAINERS_CONF), for podman only.
/// </summary>
public static class Podman
{
    static readonly Lazy<string> Conf = new(() =>
    {
        // Kept between runs like the images it goes with; rewritten each run.
        const string directory = "/var/cache/nginx-ha-test-images";
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "containers.conf");
        File.WriteAllText(path, """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
            [engine]
            runtime = "runc"
            cgroup_manager = "cgroupfs"

            """);
        return path;
    });

    public static string Binary => RequiredTool.Locate("podman", "podman");

    /// <summary>Runs podman to completion; returns exit code and output (throws only when it hangs).</summary>
    public static CommandResult TryRun(TimeSpan timeout, params string[] arguments)
    {
        var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        info.Environment["CONTAINERS_CONF"] = Conf.Value;
        using var process = Process.Start(info) ?? throw new InvalidOperationException("podman did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string line = "podman " + string.Join(' ', arguments);
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true); // our own child, by PID
            process.WaitForExit();
            throw new TimeoutException($"`{line}` did not finish within {timeout.TotalSeconds} s");
        }
        process.WaitForExit();
        return new CommandResult(line, process.ExitCode, stdout.Result, stderr.Result);
    }

    public static CommandResult TryRun(params string[] arguments) => TryRun(TimeSpan.FromMinutes(2), arguments);

    /// <summary>Runs podman and fails with its stderr unless it exits 0.</summary>
    public static string Run(params string[] arguments)
    {
        var result = TryRun(arguments);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"`{result.CommandLine}` exited {result.ExitCode}: {result.StandardError.Trim()}");
        return result.StandardOutput.Trim();
    }
}
